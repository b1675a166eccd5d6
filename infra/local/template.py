"""Load the SAM template and resolve CloudFormation intrinsics against locally created resources.

Only what the local runner needs: short-form tags, SAM Globals, parameter defaults, conditions
and the common Fn:: functions. Values that only exist in a real account (imports, AZs) get
harmless local stand-ins instead of errors, so an unrelated template change never stops the
runner from starting.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

STACK_NAME = "kefu-local"
ACCOUNT_ID = "123456789012"  # moto's default account: ARNs we build must match the ones it builds
DEFAULT_REGION = "us-east-1"

# Sentinel for Ref AWS::NoValue: removed from the enclosing mapping/list after resolution.
NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be loaded or a value in it cannot be resolved."""


# --------------------------------------------------------------------------------------------
# YAML loading
# --------------------------------------------------------------------------------------------


# libyaml's parser when PyYAML was built with it (the constructors and resolvers are the same
# Python code either way): the template loads about five times faster.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that understands CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


# CloudFormation reads "2012-10-17" as a string, not a date; drop the timestamp resolver.
CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value = _construct_node(loader, node)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # "Resource.Attr.With.Dots": the logical id never contains a dot, the attribute may.
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=CfnLoader)
    if not isinstance(data, dict):
        raise TemplateError(f"{path} is not a CloudFormation template")
    return data


# --------------------------------------------------------------------------------------------
# SAM Globals
# --------------------------------------------------------------------------------------------

GLOBALS_TARGETS = {
    "Function": "AWS::Serverless::Function",
    "Api": "AWS::Serverless::Api",
    "HttpApi": "AWS::Serverless::HttpApi",
    "SimpleTable": "AWS::Serverless::SimpleTable",
    "StateMachine": "AWS::Serverless::StateMachine",
    "LayerVersion": "AWS::Serverless::LayerVersion",
}


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's merge rules: maps merge (local wins per key), lists concatenate, local scalars win."""
    if _is_intrinsic(global_value) or _is_intrinsic(local_value):
        return copy.deepcopy(local_value)
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


def apply_globals(data: dict[str, Any]) -> dict[str, Any]:
    """Return the Resources with the Globals section merged into every matching resource."""
    resources = copy.deepcopy(data.get("Resources") or {})
    for section, props in (data.get("Globals") or {}).items():
        rtype = GLOBALS_TARGETS.get(section)
        if rtype is None or not isinstance(props, dict):
            log.debug("Globals.%s: not a SAM globals section, ignored", section)
            continue
        for resource in resources.values():
            if resource.get("Type") != rtype:
                continue
            resource["Properties"] = merge_globals(props, resource.get("Properties") or {})
    return resources


# --------------------------------------------------------------------------------------------
# Template
# --------------------------------------------------------------------------------------------


@dataclass
class Template:
    """A parsed template with SAM Globals applied and parameters bound to local values."""

    path: Path
    data: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    stack_name: str = STACK_NAME
    region: str = DEFAULT_REGION
    account_id: str = ACCOUNT_ID
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    _conditions: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def mappings(self) -> dict[str, Any]:
        return self.data.get("Mappings") or {}

    @property
    def condition_definitions(self) -> dict[str, Any]:
        return self.data.get("Conditions") or {}

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r.get("Type") in types}

    def is_enabled(self, logical_id: str) -> bool:
        """False when the resource carries a Condition that evaluates to false locally."""
        condition = self.resources[logical_id].get("Condition")
        if condition is None:
            return True
        return Intrinsics(self).condition(condition)


def _parameter_value(name: str, spec: dict[str, Any], override: Any) -> Any:
    value = override if override is not None else spec.get("Default")
    if value is None:
        log.warning("parameter %s has no Default and no override; using ''", name)
        value = ""
    ptype = str(spec.get("Type", "String"))
    if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",")] if value != "" else []
    # Ref to a Number parameter yields a string in CloudFormation.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_template(
    path: str | Path,
    *,
    parameter_overrides: dict[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    stack_name: str = STACK_NAME,
    account_id: str = ACCOUNT_ID,
) -> Template:
    """Parse `path`, apply SAM Globals and bind parameters (defaults unless overridden)."""
    path = Path(path).resolve()
    data = load_yaml(path)
    overrides = parameter_overrides or {}
    parameters = {
        name: _parameter_value(name, spec or {}, overrides.get(name))
        for name, spec in (data.get("Parameters") or {}).items()
    }
    unknown = set(overrides) - set(parameters)
    if unknown:
        log.warning("parameter overrides for unknown parameters ignored: %s", sorted(unknown))
    resources = apply_globals(data)
    _add_implicit_api(data, resources)
    return Template(
        path=path,
        data=data,
        resources=resources,
        parameters=parameters,
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        partition="aws-cn" if region.startswith("cn-") else "aws",
        url_suffix="amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com",
    )


IMPLICIT_API = "ServerlessRestApi"


def _add_implicit_api(data: dict[str, Any], resources: dict[str, dict[str, Any]]) -> None:
    """SAM creates ServerlessRestApi (stage Prod) for Api events without a RestApiId."""
    if IMPLICIT_API in resources:
        return
    for resource in resources.values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            props = event.get("Properties") or {}
            if event.get("Type") == "Api" and "RestApiId" not in props:
                api_globals = (data.get("Globals") or {}).get("Api") or {}
                resources[IMPLICIT_API] = {
                    "Type": "AWS::Serverless::Api",
                    "Properties": merge_globals(api_globals, {"StageName": "Prod"}),
                }
                return


# --------------------------------------------------------------------------------------------
# Dependencies between resources
# --------------------------------------------------------------------------------------------

_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")


def references(value: Any) -> set[str]:
    """Logical ids (or parameter/pseudo names) a value refers to via Ref, GetAtt or Sub."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, inner in node.items():
                if key == "Ref" and isinstance(inner, str):
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    if isinstance(inner, list) and inner and isinstance(inner[0], str):
                        found.add(inner[0])
                    elif isinstance(inner, str):
                        found.add(inner.split(".", 1)[0])
                elif key == "Fn::Sub":
                    template, variables = (inner, {}) if isinstance(inner, str) else (inner[0], {})
                    if isinstance(inner, list) and len(inner) > 1 and isinstance(inner[1], dict):
                        variables = inner[1]
                        walk(variables)
                    if isinstance(template, str):
                        for name in _SUB_VAR.findall(template):
                            head = name.split(".", 1)[0].strip()
                            if head not in variables:
                                found.add(head)
                walk(inner)
        elif isinstance(node, list):
            for inner in node:
                walk(inner)

    walk(value)
    return found


def dependency_order(template: Template, logical_ids: Iterable[str] | None = None) -> list[str]:
    """Topological order (dependencies first) of the given resources; stable for ties."""
    ids = list(logical_ids if logical_ids is not None else template.resources)
    wanted = set(ids)
    deps: dict[str, set[str]] = {}
    for lid in ids:
        resource = template.resources[lid]
        refs = references(resource.get("Properties") or {})
        depends_on = resource.get("DependsOn") or []
        refs |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        deps[lid] = {r for r in refs if r in wanted and r != lid}

    ordered: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(lid: str) -> None:
        if lid in done:
            return
        if lid in visiting:
            log.warning("circular dependency involving %s; continuing in template order", lid)
            return
        visiting.add(lid)
        for dep in sorted(deps[lid], key=ids.index):
            visit(dep)
        visiting.discard(lid)
        done.add(lid)
        ordered.append(lid)

    for lid in ids:
        visit(lid)
    return ordered


# --------------------------------------------------------------------------------------------
# Intrinsic functions
# --------------------------------------------------------------------------------------------


class Intrinsics:
    """Resolves intrinsic functions.

    `ref` and `get_att` are callbacks into the resource registry (physical ids and attributes
    of created resources); without them, only parameters and pseudo parameters resolve.
    """

    def __init__(
        self,
        template: Template,
        ref: Callable[[str], Any] | None = None,
        get_att: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.template = template
        self._ref = ref
        self._get_att = get_att

    # -- pseudo parameters -------------------------------------------------------------------

    def pseudo(self, name: str) -> Any:
        t = self.template
        values: dict[str, Any] = {
            "AWS::Region": t.region,
            "AWS::AccountId": t.account_id,
            "AWS::StackName": t.stack_name,
            "AWS::StackId": (
                f"arn:{t.partition}:cloudformation:{t.region}:{t.account_id}:stack/"
                f"{t.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": t.partition,
            "AWS::URLSuffix": t.url_suffix,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    # -- entry points ------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic inside `value` (a new structure is returned)."""
        result = self._resolve(value)
        return None if result is NO_VALUE else result

    def condition(self, name: str) -> bool:
        cache = self.template._conditions
        if name not in cache:
            definitions = self.template.condition_definitions
            if name not in definitions:
                raise TemplateError(f"unknown condition {name}")
            cache[name] = bool(self._resolve(definitions[name]))
        return cache[name]

    # -- implementation ----------------------------------------------------------------------

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key == "Ref":
                return self._do_ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if isinstance(key, str) and key.startswith("Fn::"):
                handler = getattr(self, "_fn_" + key[4:].lower(), None)
                if handler is None:
                    raise TemplateError(f"unsupported intrinsic {key}")
                return handler(arg)
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _do_ref(self, name: Any) -> Any:
        name = self._resolve(name)
        if not isinstance(name, str):
            raise TemplateError(f"Ref to a non-string {name!r}")
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.template.parameters:
            return self.template.parameters[name]
        if name in self.template.resources:
            if self._ref is None:
                raise TemplateError(f"Ref {name}: resource not created yet")
            return self._ref(name)
        raise TemplateError(f"Ref to unknown name {name}")

    def _fn_getatt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        else:
            logical_id, attribute = self._resolve(arg[0]), self._resolve(arg[1])
        if logical_id not in self.template.resources:
            raise TemplateError(f"GetAtt on unknown resource {logical_id}")
        if self._get_att is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: resource not created yet")
        return self._get_att(logical_id, attribute)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self._resolve(arg[1] if len(arg) > 1 else {})

        def replace(match: re.Match[str]) -> str:
            body = match.group(1)
            if body.startswith("!"):
                return "${" + body[1:] + "}"  # ${!Literal} stays literal
            name = body.strip()
            if name in variables:
                value = variables[name]
            elif name.startswith("AWS::"):
                value = self.pseudo(name)
            elif "." in name and name.split(".", 1)[0] in self.template.resources:
                logical_id, attribute = name.split(".", 1)
                value = self._fn_getatt([logical_id, attribute])
            else:
                value = self._do_ref(name)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def _fn_join(self, arg: Any) -> str:
        delimiter, items = arg[0], self._resolve(arg[1])
        if not isinstance(items, list):
            raise TemplateError(f"Fn::Join expects a list, got {items!r}")
        return str(delimiter).join(str(i) for i in items)

    def _fn_select(self, arg: Any) -> Any:
        index, items = int(self._resolve(arg[0])), self._resolve(arg[1])
        return items[index]

    def _fn_split(self, arg: Any) -> list[str]:
        delimiter, text = arg[0], self._resolve(arg[1])
        return str(text).split(str(delimiter))

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self._resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = (self._resolve(a) for a in arg)
        return str(left) == str(right) if not isinstance(left, list | dict) else left == right

    def _fn_not(self, arg: Any) -> bool:
        items = arg if isinstance(arg, list) else [arg]
        return not bool(self._resolve(items[0]))

    def _fn_and(self, arg: Any) -> bool:
        return all(bool(self._resolve(a)) for a in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(bool(self._resolve(a)) for a in arg)

    def _fn_findinmap(self, arg: Any) -> Any:
        map_name, top, second = (self._resolve(a) for a in arg[:3])
        try:
            return copy.deepcopy(self.template.mappings[map_name][top][second])
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self._resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {map_name}/{top}/{second}") from None

    def _fn_getazs(self, arg: Any) -> list[str]:
        region = self._resolve(arg) or self.template.region
        return [f"{region}{suffix}" for suffix in "abc"]

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(str(self._resolve(arg)).encode()).decode()

    def _fn_tojsonstring(self, arg: Any) -> str:
        return json.dumps(self._resolve(arg), separators=(",", ":"))

    def _fn_length(self, arg: Any) -> int:
        return len(self._resolve(arg))

    def _fn_importvalue(self, arg: Any) -> str:
        # Cross-stack exports do not exist locally; a visible stand-in beats failing to start.
        name = self._resolve(arg)
        log.warning("Fn::ImportValue %s has no local value; using a placeholder", name)
        return f"local-import-{name}"

    def _fn_cidr(self, arg: Any) -> list[str]:
        count = int(self._resolve(arg[1]))
        return [f"10.0.{i}.0/24" for i in range(count)]
