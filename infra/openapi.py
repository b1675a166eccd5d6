"""Keep docs/openapi.yaml in step with the code.

The request-body schemas in docs/openapi.yaml are generated from the msgspec structs the
handlers decode into (the same structs that validate requests), converted from JSON Schema
2020-12 to OpenAPI 3.0 (``nullable`` instead of ``type: null``, ``oneOf`` + ``discriminator``
for tagged unions). They sit between two marker comments; everything else in the document is
written by hand and left alone.

    python -m infra.openapi --check   # exit 1 and print a diff if the document is stale
    python -m infra.openapi --write   # rewrite the generated block only

The other way round, the query parameters the document declares with a type the functions can
check (an enum, an integer, a boolean) are written to the layer's kefu/query_params.json, which
kefu.http checks every request against (kefu.validation.check_query): the document is the one
declaration of which values a query parameter takes.

Run it with the layer on the path, as the tests do (pyproject's pythonpath) or with
``PYTHONPATH=layers/common/python``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.yaml"
LAYER = ROOT / "layers" / "common" / "python"
FUNCTIONS = ROOT / "functions"

BEGIN = "    # BEGIN GENERATED request bodies (python -m infra.openapi --write; do not edit)\n"
END = "    # END GENERATED request bodies\n"
INDENT = "    "
REF_TEMPLATE = "#/components/schemas/{name}"
QUERY_RULES = LAYER / "kefu" / "query_params.json"
# The schema keywords of a query parameter that kefu.validation.check_query enforces.
QUERY_KEYWORDS = ("type", "enum", "minimum", "maximum")

# Component name -> "module:attribute" of the struct (or tagged union) a handler decodes.
REQUEST_BODIES: dict[str, str] = {
    "WeChatLogin": "kefu.auth.customer_login:WeChatLogin",
    "AppLogin": "kefu.auth.customer_login:AppLogin",
    "ProfileChange": "kefu.customers.fields:ProfileChange",
    "CustomerImportRequest": "kefu.customers.transfers_api:CustomerImportRequest",
    "CustomerExportRequest": "kefu.customers.export_job:CustomerExportRequest",
    "CustomerImportUploadRequest": "kefu.customers.transfers_api:CustomerImportUploadRequest",
    "NewAttribute": "kefu.customers.attributes:NewAttribute",
    "AttributeChange": "kefu.customers.attributes:AttributeChange",
    "MergeRequest": "kefu.customers.merge:MergeRequest",
    "StaffLogin": "kefu.staff:StaffLogin",
    "StaffNewPassword": "kefu.staff.login:StaffNewPassword",
    "StaffMfaAnswer": "kefu.staff.login:StaffMfaAnswer",
    "StaffRefresh": "kefu.staff.login:StaffRefresh",
    "TotpVerify": "kefu.staff.mfa:TotpVerify",
    "NewStaff": "kefu.staff:NewStaff",
    "StaffChange": "kefu.staff:StaffChange",
    "WeChatSettingsPut": "kefu.shops.wechat_settings:WeChatSettingsPut",
    "UploadRequest": "kefu.media:UploadRequest",
    "AssignRequest": "kefu.conversations.service:AssignRequest",
    "NewQueue": "kefu.routing.admin:NewQueue",
    "QueueChange": "kefu.routing.admin:QueueChange",
    "RoutingRulesPut": "kefu.routing.rules:RoutingRulesPut",
    "StatusChange": "kefu.assignment.agents:StatusChange",
    "AgentChange": "kefu.assignment.agents:AgentChange",
    "TransferRequest": "kefu.assignment.transfer:TransferRequest",
    "CustomerMessage": "kefu.conversations.content:CustomerMessage",
    "AgentReply": "kefu.conversations.content:AgentReply",
    "NoteRequest": "kefu.workbench.notes:NoteRequest",
    "SnoozeRequest": "kefu.workbench.states:SnoozeRequest",
    "TypingRequest": "kefu.workbench.typing_relay:TypingRequest",
    "NewQuickReply": "kefu.workbench.quick_replies:NewQuickReply",
    "QuickReplyChange": "kefu.workbench.quick_replies:QuickReplyChange",
    "ShopEvent": "kefu.shop_events.payloads:ShopEvent",
    "ShopEventBatch": "kefu.shop_events.payloads:ShopEventBatch",
    "MarkNotificationsRead": "kefu.realtime.inbox:MarkNotificationsRead",
    "NewTicket": "kefu.tickets.service:NewTicket",
    "ConversationTicket": "kefu.tickets.service:ConversationTicket",
    "TicketChange": "kefu.tickets.service:TicketChange",
    "NewComment": "kefu.tickets.service:NewComment",
    "CalendarBody": "kefu.tickets.sla:CalendarBody",
    "SlaPoliciesBody": "kefu.tickets.sla:SlaPoliciesBody",
    "NewKbEntry": "kefu.knowledge.entries:NewKbEntry",
    "KbEntryChange": "kefu.knowledge.entries:KbEntryChange",
    "KbRestore": "kefu.knowledge.entries:KbRestore",
    "KbImport": "kefu.knowledge.transfer:KbImport",
    "KbDictionary": "kefu.knowledge.publish:KbDictionary",
    "KbTrial": "kefu.knowledge.trial:KbTrial",
    "NewKeywordRule": "kefu.bot.keyword_rules:NewKeywordRule",
    "KeywordRuleChange": "kefu.bot.keyword_rules:KeywordRuleChange",
    "KeywordRuleTest": "kefu.bot.keyword_rules:KeywordRuleTest",
    "AcceptSuggestion": "kefu.bot.learning:AcceptSuggestion",
    "BotSettings": "kefu.bot.settings:BotSettings",
    "TierSettingsPut": "kefu.tiers.settings:TierSettingsPut",
    "SegmentPreview": "kefu.segments.admin:SegmentPreview",
    "NewSegment": "kefu.segments.admin:NewSegment",
    "SegmentChange": "kefu.segments.admin:SegmentChange",
    "NewTagGroup": "kefu.tags.catalog:NewTagGroup",
    "TagGroupEdit": "kefu.tags.catalog:TagGroupEdit",
    "NewTag": "kefu.tags.catalog:NewTag",
    "TagEdit": "kefu.tags.catalog:TagEdit",
    "TagCustomer": "kefu.tags.customer_tags:TagCustomer",
    "NewAutoTagRule": "kefu.tags.rules:NewAutoTagRule",
    "AutoTagRuleEdit": "kefu.tags.rules:AutoTagRuleEdit",
    "NewJob": "kefu.jobs.service:NewJob",
    "JobSettingsChange": "kefu.jobs.service:JobSettingsChange",
}


def _ensure_layer_on_path() -> None:
    if importlib.util.find_spec("kefu") is None:
        sys.path.insert(0, str(LAYER))


def request_body_types() -> dict[str, Any]:
    """Component name -> the msgspec type (a Struct class or a union of tagged Structs)."""
    _ensure_layer_on_path()
    found = {}
    for name, target in REQUEST_BODIES.items():
        module, _, attribute = target.partition(":")
        found[name] = getattr(importlib.import_module(module), attribute)
    return found


# --------------------------------------------------------------------------------------------
# JSON Schema 2020-12 (msgspec) -> OpenAPI 3.0
# --------------------------------------------------------------------------------------------

_NULL = {"type": "null"}


def _enum_type(values: list[Any]) -> str | None:
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    return None


def to_openapi30(schema: Any) -> Any:
    """Convert one msgspec-produced schema (recursively) to the OpenAPI 3.0 dialect."""
    if isinstance(schema, list):
        return [to_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = {key: to_openapi30(value) for key, value in schema.items()}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "enum" in node and "type" not in node and (kind := _enum_type(node["enum"])):
        node = {"type": kind, **node}
    if node.get("required") == []:
        del node["required"]  # OpenAPI 3.0 wants at least one item, or no list at all
    if "anyOf" in node:
        options = node.pop("anyOf")
        others = [o for o in options if o != _NULL]
        rest = {k: v for k, v in node.items()}
        if len(others) < len(options):
            rest["nullable"] = True
        if len(others) == 1 and "$ref" not in others[0]:
            merged = {**others[0]}
            for key, value in rest.items():
                merged[key] = value
            node = merged
        elif len(others) == 1:
            node = {"allOf": others, **rest}
        else:
            # A tagged union: exactly one member matches, chosen by the discriminator.
            key = "oneOf" if "discriminator" in rest else "anyOf"
            node = {key: others, **rest}
    return node


def request_schemas() -> dict[str, dict[str, Any]]:
    """The generated components/schemas entries, in a stable order."""
    import msgspec

    types = request_body_types()
    tops, components = msgspec.json.schema_components(
        list(types.values()), ref_template=REF_TEMPLATE
    )
    result: dict[str, dict[str, Any]] = {}
    for name, top in zip(types, tops, strict=True):
        if top == {"$ref": REF_TEMPLATE.format(name=name)}:
            result[name] = to_openapi30(components[name])
        else:  # a union: it gets its own component naming its members
            result[name] = {"title": name, **to_openapi30(top)}
    for name, component in components.items():
        result.setdefault(name, to_openapi30(component))
    return result


def render_block(schemas: dict[str, dict[str, Any]]) -> str:
    dumped = yaml.safe_dump(
        schemas, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    body = "".join(INDENT + line if line.strip() else line for line in dumped.splitlines(True))
    return BEGIN + body + END


def sync(text: str, schemas: dict[str, dict[str, Any]] | None = None) -> str:
    """The document text with its generated block replaced by the current schemas."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(
            f"{DOCUMENT.name} lacks the generated-block markers under components/schemas:\n"
            f"{BEGIN}{END}"
        )
    block = render_block(schemas if schemas is not None else request_schemas())
    return text[:start] + block + text[end + len(END) :]


def diff(path: Path = DOCUMENT) -> str:
    """A unified diff from the document to its up-to-date form; empty when in step."""
    current = path.read_text(encoding="utf-8")
    wanted = sync(current)
    text = "".join(
        difflib.unified_diff(
            current.splitlines(True),
            wanted.splitlines(True),
            fromfile=str(path),
            tofile=f"{path} (generated)",
        )
    )
    if path == DOCUMENT:
        text += query_rules_diff(yaml.safe_load(current))
    return text


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def query_rules(document: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """ "METHOD /path" -> {parameter: the checkable part of its schema}, for the parameters
    whose values are constrained beyond free text."""
    rules: dict[str, dict[str, dict[str, Any]]] = {}
    for path, item in sorted((document.get("paths") or {}).items()):
        for method in sorted(m for m in item if m in HTTP_METHODS):
            params = [*item.get("parameters", []), *item[method].get("parameters", [])]
            found: dict[str, dict[str, Any]] = {}
            for param in (_resolve(document, p) for p in params):
                schema = _resolve(document, param.get("schema") or {})
                if param.get("in") != "query":
                    continue
                if "enum" not in schema and schema.get("type") not in ("integer", "boolean"):
                    continue
                found[param["name"]] = {k: schema[k] for k in QUERY_KEYWORDS if k in schema}
            if found:
                rules[f"{method.upper()} {path}"] = found
    return rules


def render_query_rules(document: dict[str, Any]) -> str:
    # One operation a line: a change to the document is a one-line change here.
    lines = [
        f"  {json.dumps(op)}: {json.dumps(params, ensure_ascii=False, sort_keys=True)}"
        for op, params in query_rules(document).items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def query_rules_diff(document: dict[str, Any]) -> str:
    current = QUERY_RULES.read_text(encoding="utf-8") if QUERY_RULES.exists() else ""
    return "".join(
        difflib.unified_diff(
            current.splitlines(True),
            render_query_rules(document).splitlines(True),
            fromfile=str(QUERY_RULES),
            tofile=f"{QUERY_RULES} (generated from {DOCUMENT.name})",
        )
    )


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _load_app(path: Path) -> Any:
    name = "kefu_openapi_" + re.sub(r"\W", "_", str(path.relative_to(ROOT)))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def chalice_apps() -> dict[str, Any]:
    """Function directory name -> its Chalice app, for every function that serves HTTP."""
    _ensure_layer_on_path()
    from chalice import Chalice

    apps = {}
    for path in sorted(FUNCTIONS.glob("*/app.py")):
        app = getattr(_load_app(path), "app", None)
        if isinstance(app, Chalice):
            apps[path.parent.name] = app
    return apps


def code_routes() -> set[tuple[str, str]]:
    """Every (method, path) the Chalice apps serve, methods lower-case as in OpenAPI."""
    return {
        (method.lower(), path)
        for app in chalice_apps().values()
        for path, entries in app.routes.items()
        for method in entries
    }


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def document_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in (document.get("paths") or {}).items()
        for method in item
        if method in HTTP_METHODS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail if docs/openapi.yaml is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the generated block")
    args = parser.parse_args(argv)
    if args.write:
        text = DOCUMENT.read_text(encoding="utf-8")
        text = sync(text)
        DOCUMENT.write_text(text, encoding="utf-8")
        QUERY_RULES.write_text(render_query_rules(yaml.safe_load(text)), encoding="utf-8")
        print(
            f"wrote the request-body schemas of {DOCUMENT.relative_to(ROOT)} and "
            f"{QUERY_RULES.relative_to(ROOT)}"
        )
        return 0
    problems = diff()
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    routes, documented = code_routes(), document_routes(document)
    for method, path in sorted(routes - documented):
        problems += f"undocumented route: {method.upper()} {path}\n"
    for method, path in sorted(documented - routes):
        problems += f"documented but not served: {method.upper()} {path}\n"
    if problems:
        print(problems, end="")
        return 1
    print(f"{DOCUMENT.relative_to(ROOT)} is in step with the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
