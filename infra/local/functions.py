"""The template's functions, run in this process the way the Lambda Python runtime runs them.

Each function's handler module is imported lazily (first invocation) from its CodeUri under a
unique module name, because several functions have an `app.py`. The layer's python/ directory
goes on sys.path, as Lambda does with /opt/python. Environment variables are process-wide
(os.environ); since every function's variables resolve to the same local resources, their
union is set once, and the few per-function values (AWS_LAMBDA_FUNCTION_NAME, Powertools
service names, ...) are re-applied before each import and invocation, best effort.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.resources import Registry
from infra.local.template import Template

log = logging.getLogger(__name__)

# Imports mutate sys.path/sys.modules/os.environ: one at a time across all functions.
_IMPORT_LOCK = threading.RLock()


class FunctionError(Exception):
    """The function raised (or its result could not be serialized): Lambda's "Unhandled" error."""

    def __init__(self, function_name: str, error_type: str, message: str, trace: str) -> None:
        super().__init__(f"{function_name}: {error_type}: {message}")
        self.function_name = function_name
        self.error_type = error_type
        self.error_message = message
        self.trace = trace

    def payload(self) -> dict[str, Any]:
        """What Lambda's Invoke API returns for an unhandled error."""
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "stackTrace": self.trace.splitlines(),
        }


class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    def __init__(self, function: LocalFunction, request_id: str | None = None) -> None:
        now = datetime.now(UTC)
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """One AWS::Serverless::Function, invocable in-process."""

    def __init__(
        self,
        *,
        logical_id: str,
        name: str,
        arn: str,
        code_dir: Path,
        handler: str,
        runtime: str,
        timeout: int,
        memory_size: int,
        variables: Mapping[str, str],
        layer_dirs: list[Path],
        events: Mapping[str, dict[str, Any]],
        runtime_env: Mapping[str, str] | None = None,
    ) -> None:
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.code_dir = code_dir
        self.handler = handler
        self.runtime = runtime
        self.timeout = timeout
        self.memory_size = memory_size
        self.variables = dict(variables)  # from the template (resolved)
        self.layer_dirs = layer_dirs
        self.events = dict(events)  # event name -> {"Type", "Properties"} (resolved)
        self.runtime_env: dict[str, str] = dict(runtime_env or {})  # endpoint, region, creds
        self.overrides: dict[str, str] = {}  # set by the stack (e.g. WECHAT_API_BASE_URL)
        self.module: Any = None
        self._entry: Callable[[Any, Any], Any] | None = None

    def __repr__(self) -> str:
        return f"LocalFunction({self.logical_id}, handler={self.handler!r})"

    @property
    def env(self) -> dict[str, str]:
        """Every environment variable this function sees, as Lambda would set them."""
        env = dict(self.runtime_env)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
                "LAMBDA_TASK_ROOT": str(self.code_dir),
                "_HANDLER": self.handler,
            }
        )
        env.update(self.variables)
        env.update(self.overrides)
        return env

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> Callable[[Any, Any], Any]:
        """Import the handler (once); errors surface like Lambda's Runtime.ImportModuleError."""
        if self._entry is not None:
            return self._entry
        with _IMPORT_LOCK:
            if self._entry is None:
                self._entry = self._import()
        return self._entry

    def _import(self) -> Callable[[Any, Any], Any]:
        module_path, _, attribute = self.handler.rpartition(".")
        if not module_path:
            raise FunctionError(self.name, "Runtime.MalformedHandlerName", self.handler, "")
        relative = module_path.replace(".", "/")
        source = self.code_dir / f"{relative}.py"
        if not source.is_file():
            source = self.code_dir / relative / "__init__.py"
        if not source.is_file():
            raise FunctionError(
                self.name,
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_path}': no {relative}.py in {self.code_dir}",
                "",
            )
        os.environ.update(self.env)
        for layer_dir in reversed(self.layer_dirs):
            if str(layer_dir) not in sys.path:
                sys.path.insert(0, str(layer_dir))  # Lambda: /opt/python after /var/task
        unique = f"_kefu_local_{self.logical_id}__{relative.replace('/', '_')}"
        # Top-level names this function's directory provides: hide same-named modules already
        # imported (another function's `helpers`, a test's `app`) while this one imports.
        own_names = _top_level_names(self.code_dir)
        hidden = {
            name: sys.modules.pop(name)
            for name in list(sys.modules)
            if name.split(".")[0] in own_names
            and not _module_inside(sys.modules[name], self.code_dir)
        }
        sys.path.insert(0, str(self.code_dir))
        try:
            spec = importlib.util.spec_from_file_location(unique, source)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
            entry = getattr(module, attribute)
        except Exception as exc:
            sys.modules.pop(unique, None)
            trace = traceback.format_exc()
            log.error("%s: cannot import handler %s:\n%s", self.name, self.handler, trace)
            raise FunctionError(self.name, "Runtime.ImportModuleError", str(exc), trace) from exc
        finally:
            sys.path.remove(str(self.code_dir))
            # This function's sibling modules stay referenced by its code but leave
            # sys.modules, so another function's same-named modules import fresh.
            for name in list(sys.modules):
                mine = name != unique and name.split(".")[0] in own_names
                if mine and _module_inside(sys.modules[name], self.code_dir):
                    del sys.modules[name]
            sys.modules.update(hidden)
        if not callable(entry):
            raise FunctionError(
                self.name, "Runtime.HandlerNotFound", f"{self.handler} is not callable", ""
            )
        self.module = module
        return entry

    # -- invoking ----------------------------------------------------------------------------

    def invoke(self, event: Any, context: LambdaContext | None = None) -> Any:
        """Run the handler with a JSON copy of `event`; return its JSON-serializable result.

        Raises FunctionError when the handler raises, like a Lambda "Unhandled" error; the
        traceback is logged, never propagated to the caller's thread as-is.
        """
        entry = self.load()
        payload = json.loads(json.dumps(event))  # Lambda hands the handler decoded JSON
        context = context or LambdaContext(self)
        os.environ.update(self.env)  # per-function values and AWS_LAMBDA_FUNCTION_NAME
        started = time.monotonic()
        try:
            result = entry(payload, context)
        except (Exception, SystemExit) as exc:
            trace = traceback.format_exc()
            log.error(
                "%s failed (request %s): %s\n%s",
                self.name,
                context.aws_request_id,
                exc,
                trace,
            )
            raise FunctionError(self.name, type(exc).__name__, str(exc), trace) from exc
        finally:
            elapsed = time.monotonic() - started
            log.debug("%s request %s: %.1f ms", self.name, context.aws_request_id, elapsed * 1000)
            if elapsed > self.timeout:
                log.warning(
                    "%s ran %.1f s, over its %d s timeout (Lambda would have killed it)",
                    self.name,
                    elapsed,
                    self.timeout,
                )
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            log.error("%s returned a result that is not JSON: %s", self.name, exc)
            raise FunctionError(self.name, "Runtime.MarshalError", str(exc), "") from exc


def _top_level_names(code_dir: Path) -> set[str]:
    names = set()
    for entry in code_dir.iterdir():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.is_dir() and not entry.name.startswith((".", "__")):
            names.add(entry.name)
    return names


def _module_inside(module: Any, directory: Path) -> bool:
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []) or [])]
    for location in locations:
        if location and Path(location).resolve().is_relative_to(directory):
            return True
    return False


# --------------------------------------------------------------------------------------------
# Building functions from the template
# --------------------------------------------------------------------------------------------

FUNCTION_TYPES = ("AWS::Serverless::Function",)


def build_functions(
    template: Template, registry: Registry, runtime_env: Mapping[str, str]
) -> dict[str, LocalFunction]:
    """One LocalFunction per enabled, runnable AWS::Serverless::Function (keyed by logical id)."""
    functions: dict[str, LocalFunction] = {}
    for logical_id in template.resources_of_type(*FUNCTION_TYPES):
        if not template.is_enabled(logical_id):
            continue
        function = build_function(template, registry, logical_id, runtime_env)
        if function is not None:
            functions[logical_id] = function
    return functions


def build_function(
    template: Template, registry: Registry, logical_id: str, runtime_env: Mapping[str, str]
) -> LocalFunction | None:
    props = template.resources[logical_id].get("Properties") or {}
    resolve = registry.resolve
    if props.get("PackageType") == "Image" or "InlineCode" in props:
        log.warning("%s: only CodeUri functions run locally; skipped", logical_id)
        return None
    runtime = str(resolve(props.get("Runtime")) or "python3.11")
    if not runtime.startswith("python"):
        log.warning("%s: runtime %s cannot run in this process; skipped", logical_id, runtime)
        return None
    code_uri = resolve(props.get("CodeUri", "."))
    if not isinstance(code_uri, str):
        log.warning("%s: CodeUri %r is not a local directory; skipped", logical_id, code_uri)
        return None
    variables = resolve(((props.get("Environment") or {}).get("Variables")) or {}) or {}
    record = registry[logical_id]
    return LocalFunction(
        logical_id=logical_id,
        name=str(record.physical_id),
        arn=str(record.attributes["Arn"]),
        code_dir=(template.base_dir / code_uri).resolve(),
        handler=str(resolve(props.get("Handler", "app.handler"))),
        runtime=runtime,
        timeout=int(resolve(props.get("Timeout", 3))),
        memory_size=int(resolve(props.get("MemorySize", 128))),
        variables={str(k): _env_value(v) for k, v in variables.items()},
        layer_dirs=_layer_dirs(template, registry, logical_id, resolve(props.get("Layers") or [])),
        events={
            name: {"Type": event.get("Type"), "Properties": resolve(event.get("Properties") or {})}
            for name, event in (props.get("Events") or {}).items()
        },
        runtime_env=runtime_env,
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "" if value is None else str(value)


def _layer_dirs(
    template: Template, registry: Registry, logical_id: str, arns: list[Any]
) -> list[Path]:
    dirs = []
    layers = {
        r.physical_id: r
        for r in registry.of_type("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
    }
    for arn in arns:
        layer = layers.get(arn)
        content = layer.details.get("content_uri") if layer else None
        if not isinstance(content, str):
            # e.g. the public Powertools layer: its packages come from the local venv instead.
            log.debug("%s: layer %s is not local; relying on installed packages", logical_id, arn)
            continue
        root = (template.base_dir / content).resolve()
        dirs.append(root / "python" if (root / "python").is_dir() else root)
    return dirs
