"""LocalStack: the SAM template running on loopback against an in-process moto server.

    with LocalStack("template.yaml", port=0, moto_port=0) as stack:
        requests.get(f"{stack.api_url}/v1/...")
        stack.invoke("SomeFunction", {...})

Start order matters: moto, then resources, then functions (environment resolved), then the
`before_start` hooks (stand-ins, demo data: they may change the functions' environment and
write data), and only then the things that invoke functions (gateway, pollers, schedules).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import boto3
import requests
from botocore.config import Config

from infra.local import moto_patches
from infra.local.functions import LocalFunction, build_functions
from infra.local.gateway import Gateway, build_routes
from infra.local.pollers import PollerGroup, eventbridge_sources, sqs_sources
from infra.local.resources import Provisioner, Registry, Resource
from infra.local.schedules import ScheduleRunner, build_schedules
from infra.local.streams import stream_sources
from infra.local.template import DEFAULT_REGION, Template, load_template

log = logging.getLogger(__name__)

Hook = Callable[["LocalStack"], None]

# Per-function by nature; not reported as conflicts between functions.
_PER_FUNCTION_KEYS = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
}


class PortInUse(RuntimeError):
    pass


def _moto_server(host: str, port: int) -> Any:
    """moto's ThreadedMotoServer, minus the access-log line per AWS call, failing fast.

    (ThreadedMotoServer.start() waits forever when its bind fails; here the error surfaces.)
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    class QuietMotoServer(ThreadedMotoServer):
        error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=QuietHandler
                )
            except BaseException as exc:
                self.error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

    server = QuietMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    if server.error is not None:
        raise PortInUse(f"moto server cannot listen on {host}:{port}: {server.error}")
    return server


class LocalStack:
    """Everything the template declares, running locally. Use as a context manager.

    moto keeps its state in process-global backends: two stacks in one process share it
    (even with two servers), so only the last one to stop resets it.
    """

    _running_servers: ClassVar[set[int]] = set()

    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        moto_port: int = 5000,
        moto_url: str | None = None,
        region: str = DEFAULT_REGION,
        parameter_overrides: dict[str, Any] | None = None,
        before_start: Iterable[Hook] = (),
        env: dict[str, str] | None = None,
        gateway: bool = True,
        websocket: bool = True,
        ws_port: int | None = None,
        pollers: bool = True,
        schedules: bool = True,
        preload: bool = False,
        console: Path | None = None,
    ) -> None:
        self.template_path = Path(template)
        self.host = host
        self.port = port
        self.moto_port = moto_port
        self.region = region
        self.parameter_overrides = parameter_overrides or {}
        self.before_start: list[Hook] = list(before_start)
        self.env_overrides: dict[str, str] = dict(env or {})
        self.enable_gateway = gateway
        self.enable_websocket = websocket
        # WebSocket APIs: 3001 by default; any free port when the gateway takes any (tests).
        self.ws_port = ws_port if ws_port is not None else (0 if port == 0 else 3001)
        self.enable_pollers = pollers
        self.enable_schedules = schedules
        self.preload = preload
        self.console_dist = console  # console/dist, served on the gateway with /config.json

        self.urls: dict[str, str] = {}  # api, moto, and whatever hooks add (e.g. wechat)
        self.template: Template | None = None
        self.registry: Registry | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.gateway: Gateway | None = None
        self.websockets: list[Any] = []  # infra.local.websocket.WebSocketServer
        self.pollers: PollerGroup | None = None
        self.schedules: ScheduleRunner | None = None
        self.outputs: dict[str, Any] = {}

        self._moto_url = moto_url.rstrip("/") if moto_url else None
        self._moto_server: Any = None
        self._provisioner: Provisioner | None = None
        self._saved_env: dict[str, str | None] = {}
        self._cleanups: list[Callable[[], None]] = []
        self._started = False

    # -- properties --------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.urls.get("api", "")

    @property
    def moto_url(self) -> str:
        return self._moto_url or ""

    @property
    def env(self) -> dict[str, str]:
        """Environment variables the functions see (the process-wide union)."""
        merged: dict[str, str] = dict(self._runtime_env())
        for function in self.functions.values():
            for key, value in function.variables.items():
                merged.setdefault(key, value)
        merged.update(self.env_overrides)
        return merged

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.template = load_template(
            self.template_path, parameter_overrides=self.parameter_overrides, region=self.region
        )
        self._start_moto()
        self._set_process_env(self._runtime_env())

        self._provisioner = Provisioner(self.template, self.moto_url, self.region)
        self.registry = self._provisioner.run()
        self.functions = build_functions(self.template, self.registry, self._runtime_env())
        self._apply_function_env()
        if self.enable_websocket:
            self._start_websockets()
        bridges = eventbridge_sources(self.functions, self.registry, self._provisioner)
        self.outputs = self._resolve_outputs()

        for hook in self.before_start:
            hook(self)

        if self.preload:
            for function in self.functions.values():
                try:
                    function.load()
                except Exception as exc:
                    log.warning("%s does not import: %s", function.name, exc)
        if self.enable_pollers:
            self.pollers = PollerGroup(
                sqs_sources(self.functions, self.registry) + bridges,
                self.moto_url,
                self.region,
                streams=stream_sources(self.functions, self.registry),
            )
            self.pollers.start()
        self.schedules = ScheduleRunner(
            build_schedules(
                self.functions,
                stack_name=self.template.stack_name,
                region=self.region,
                account_id=self.template.account_id,
            ),
            self.region,
            self.template.account_id,
        )
        if self.enable_schedules:
            self.schedules.start()
        if self.enable_gateway:
            routes = build_routes(self.functions, self.registry)
            self.gateway = Gateway(
                routes, host=self.host, port=self.port, account_id=self.template.account_id
            )
            try:
                self.urls["api"] = self.gateway.start()
            except OSError as exc:
                raise PortInUse(
                    f"API gateway cannot listen on {self.host}:{self.port}: {exc}"
                ) from None
            if self.console_dist is not None:
                from infra.local.console import ConsoleSite

                self.gateway.site = ConsoleSite(self.console_dist, self.console_config)
                if self.gateway.site.built:
                    # `localhost`, not 127.0.0.1: browsers keep the API's Secure refresh cookie
                    # on plain http only for localhost (a reload then stays signed in).
                    host = "localhost" if self.host in ("127.0.0.1", "localhost") else self.host
                    self.urls["console"] = f"http://{host}:{self.gateway.port}/"
                else:
                    log.warning("console not built (%s): run make console", self.console_dist)

    def console_config(self) -> dict[str, Any]:
        """The console's config.json (console/src/config.ts): the API on the same origin."""
        physical = {}
        if self.registry is not None:
            for name in ("StaffUserPool", "StaffUserPoolClient"):
                resource = self.registry.resources.get(name)
                physical[name] = resource.physical_id if resource is not None else None
        return {
            "apiBaseUrl": "",
            "webSocketUrl": self.urls.get("websocket", ""),
            "userPoolId": physical.get("StaffUserPool"),
            "userPoolClientId": physical.get("StaffUserPoolClient"),
            "region": self.region,
            "stage": str(self.parameter_overrides.get("Stage", "local")),
            "defaultShopId": "demo",
        }

    def stop(self) -> None:
        """Stop everything started, reset moto (if ours) and restore the environment."""
        if not self._started:
            return
        self._started = False
        if self.schedules is not None:
            self.schedules.stop()
        if self.pollers is not None:
            self.pollers.stop()
        if self.gateway is not None:
            self.gateway.stop()
        for server in self.websockets:
            server.stop()
        self.websockets.clear()
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                log.exception("cleanup %r failed", cleanup)
        self._cleanups.clear()
        if self._moto_server is not None:
            LocalStack._running_servers.discard(id(self))
            if not LocalStack._running_servers:
                try:
                    # Leave no state behind for the next stack in this process.
                    requests.post(f"{self.moto_url}/moto-api/reset", timeout=5)
                except requests.RequestException as exc:
                    log.debug("moto reset failed: %s", exc)
                moto_patches.uninstall()
            self._moto_server.stop()
            inner = getattr(self._moto_server, "_server", None)
            if inner is not None:
                inner.server_close()
            self._moto_server = None
        self._restore_env()

    def _start_moto(self) -> None:
        if self._moto_url:
            self.urls["moto"] = self._moto_url
            return
        server = _moto_server(self.host, self.moto_port)
        self._moto_server = server
        LocalStack._running_servers.add(id(self))
        host, port = server.get_host_and_port()
        self._moto_url = f"http://{host}:{port}"
        self.urls["moto"] = self._moto_url

    # -- environment -------------------------------------------------------------------------

    def _runtime_env(self) -> dict[str, str]:
        """What every function's Lambda environment has, pointed at the local moto."""
        env = {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            # What `sam local` sets; Powertools disables tracing when it sees it.
            "AWS_SAM_LOCAL": "true",
            # moto serves DynamoDB Streams only without account-based endpoints.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
        env.update(self.env_overrides)
        return env

    def _set_process_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def _apply_function_env(self) -> None:
        values: dict[str, dict[str, list[str]]] = {}
        for function in self.functions.values():
            function.overrides.update(self.env_overrides)
            for key, value in function.env.items():
                values.setdefault(key, {}).setdefault(value, []).append(function.logical_id)
        conflicts = {k: v for k, v in values.items() if len(v) > 1 and k not in _PER_FUNCTION_KEYS}
        for key, by_value in sorted(conflicts.items()):
            log.warning(
                "env %s differs between functions (%s); each function gets its own value "
                "while it imports/runs, but the process sees one at a time",
                key,
                "; ".join(f"{v!r}: {', '.join(ids)}" for v, ids in by_value.items()),
            )
        union = {k: next(iter(v)) for k, v in values.items() if k not in _PER_FUNCTION_KEYS}
        self._set_process_env(union)
        # Functions set their per-function values on each invocation: restore those too.
        for key in _PER_FUNCTION_KEYS:
            self._saved_env.setdefault(key, os.environ.get(key))

    def _start_websockets(self) -> None:
        """Serve the template's WebSocket APIs, and point the functions' callback URLs (the
        template's https://<api>.execute-api... !Sub) at the local Management API."""
        from infra.local.websocket import WebSocketServer, build_websocket_apis, callback_rewrites

        assert self.template is not None and self.registry is not None
        apis = build_websocket_apis(self.template, self.registry, self.functions)
        for index, api in enumerate(apis):
            server = WebSocketServer(
                api,
                host=self.host,
                port=self.ws_port if index == 0 else 0,
                account_id=self.template.account_id,
            )
            try:
                url = server.start()
            except OSError as exc:
                raise PortInUse(f"WebSocket API cannot listen on {self.host}: {exc}") from None
            self.websockets.append(server)
            name = "websocket" if index == 0 else f"websocket:{api.logical_id}"
            self.urls[name] = url
            self.urls[f"{name}-callback"] = server.callback_url
        rewrites = callback_rewrites(self.websockets, self.template)
        for function in self.functions.values():
            for key, value in function.variables.items():
                if value in rewrites:
                    function.overrides[key] = rewrites[value]
                    self._set_process_env({key: rewrites[value]})

    def set_env(self, name: str, value: str) -> None:
        """Override an environment variable for every function (and this process)."""
        self.env_overrides[name] = value
        for function in self.functions.values():
            function.overrides[name] = value
        self._set_process_env({name: value})

    # -- conveniences ------------------------------------------------------------------------

    def add_cleanup(self, callback: Callable[[], None]) -> None:
        """Run `callback` on stop (reverse order), before moto goes away."""
        self._cleanups.append(callback)

    def function(self, name: str) -> LocalFunction:
        """A function by logical id or by (local) function name."""
        if name in self.functions:
            return self.functions[name]
        for function in self.functions.values():
            if function.name == name:
                return function
        raise KeyError(f"no function {name!r}; have {sorted(self.functions)}")

    def invoke(self, name: str, event: Any) -> Any:
        """Invoke a function synchronously (RequestResponse); raises FunctionError on failure."""
        return self.function(name).invoke(event)

    def fire_schedule(self, name: str, event_name: str | None = None) -> Any:
        """Fire a function's Schedule/ScheduleV2 event now; returns the function's result."""
        assert self.schedules is not None, "start the stack first"
        return self.schedules.fire_now(name, event_name)

    def resource(self, logical_id: str) -> Resource:
        assert self.registry is not None, "start the stack first"
        return self.registry[logical_id]

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the local moto server."""
        return boto3.session.Session().client(
            service,
            endpoint_url=self.moto_url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=kwargs.pop("config", Config(retries={"max_attempts": 2})),
            **kwargs,
        )

    def _resolve_outputs(self) -> dict[str, Any]:
        assert self.template is not None and self.registry is not None
        outputs = {}
        for name, spec in (self.template.data.get("Outputs") or {}).items():
            try:
                if "Condition" in spec and not self.registry.intrinsics.condition(
                    spec["Condition"]
                ):
                    continue
                outputs[name] = self.registry.resolve(spec.get("Value"))
            except Exception as exc:
                log.debug("output %s not resolvable locally: %s", name, exc)
        return outputs

    def describe(self) -> str:
        """A human summary: URLs, provisioned resources, functions and their triggers."""
        lines = [f"{key:>8}: {url}" for key, url in self.urls.items()]
        if self.registry is not None:
            lines.append("resources:")
            lines += [f"  {line}" for line in self.registry.summary()]
            skipped = [
                r.logical_id for r in self.registry.resources.values() if r.status == "skipped"
            ]
            if skipped:
                lines.append(f"  not emulated: {', '.join(skipped)}")
        lines.append("functions:")
        for function in self.functions.values():
            triggers = []
            for event in function.events.values():
                props, kind = event["Properties"], event.get("Type")
                if kind == "Api":
                    triggers.append(
                        f"{str(props.get('Method', 'ANY')).upper()} {props.get('Path')}"
                    )
                elif kind == "SQS":
                    triggers.append(f"SQS {str(props.get('Queue')).rsplit(':', 1)[-1]}")
                elif kind in ("Schedule", "ScheduleV2"):
                    triggers.append(f"{props.get('Schedule') or props.get('ScheduleExpression')}")
                else:
                    triggers.append(str(kind))
            lines.append(f"  {function.logical_id} ({function.handler}): {'; '.join(triggers)}")
        return "\n".join(lines)
