"""API Gateway WebSocket APIs (AWS::ApiGatewayV2::Api, ProtocolType WEBSOCKET) on loopback.

For each such API in the template: a real WebSocket server (the `websockets` library) whose
connections become API Gateway WebSocket proxy events for the function each route integrates
with (Route -> Target "integrations/<id>" -> Integration IntegrationUri -> function):

  $connect     on the opening handshake, with the query string and headers; a non-2xx answer
               (or a failing function) refuses the connection with that status
  <route key>  each text frame, routed by the API's RouteSelectionExpression
               ($request.body.action), else $default; two-way routes (those with a
               RouteResponseSelectionExpression) send the function's `body` back
  $disconnect  when either side closes

and the Management API (POST/GET/DELETE /@connections/{id}, under /<stage>/ as on AWS) on a
second loopback port, so `post_to_connection` from a function reaches the socket. The callback
URL replaces the template's https://<api>.execute-api.<region>.amazonaws.com/<stage> in the
functions' environment (and the wss:// form with the local ws:// URL).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local.functions import FunctionError, LocalFunction
from infra.local.resources import Registry
from infra.local.template import Template

log = logging.getLogger(__name__)

API_TYPE = "AWS::ApiGatewayV2::Api"
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
OPEN_WAIT_SECONDS = 5  # a push racing the end of the handshake waits this long for the socket


@dataclass
class WsRoute:
    key: str
    function: LocalFunction | None
    two_way: bool = False


@dataclass
class WsApi:
    logical_id: str
    api_id: str
    stage: str
    selection_expression: str
    routes: dict[str, WsRoute] = field(default_factory=dict)


def _of_type(template: Template, registry: Registry, rtype: str) -> dict[str, dict[str, Any]]:
    """Resolved properties of every enabled resource of a type (logical id -> properties)."""
    found = {}
    for logical_id, spec in template.resources_of_type(rtype).items():
        if not template.is_enabled(logical_id):
            continue
        try:
            found[logical_id] = registry.resolve(spec.get("Properties") or {}) or {}
        except Exception as exc:
            log.warning("%s: cannot resolve its properties locally: %s", logical_id, exc)
    return found


def build_websocket_apis(
    template: Template, registry: Registry, functions: dict[str, LocalFunction]
) -> list[WsApi]:
    by_arn = {f.arn: f for f in functions.values()}
    stages = _of_type(template, registry, "AWS::ApiGatewayV2::Stage")
    integrations = _of_type(template, registry, "AWS::ApiGatewayV2::Integration")
    routes = _of_type(template, registry, "AWS::ApiGatewayV2::Route")
    apis = []
    for logical_id, props in _of_type(template, registry, API_TYPE).items():
        if str(props.get("ProtocolType", "")).upper() != "WEBSOCKET":
            continue
        api_id = str(registry[logical_id].physical_id)
        stage = next(
            (str(s.get("StageName")) for s in stages.values() if str(s.get("ApiId")) == api_id),
            "local",
        )
        api = WsApi(
            logical_id,
            api_id,
            stage,
            str(props.get("RouteSelectionExpression") or "$request.body.action"),
        )
        targets: dict[str, LocalFunction | None] = {}
        for integration_id, integration in integrations.items():
            if str(integration.get("ApiId")) != api_id:
                continue
            uri = str(integration.get("IntegrationUri") or "")
            function = next((f for arn, f in by_arn.items() if arn in uri), None)
            if function is None:
                log.warning("%s: integration %s is not a local function", logical_id, uri)
            targets[str(registry[integration_id].physical_id)] = function
        for route_id, route in routes.items():
            if str(route.get("ApiId")) != api_id:
                continue
            target = str(route.get("Target") or "")
            function = targets.get(target.removeprefix("integrations/"))
            if function is None:
                log.warning("%s: route %s has no local integration", logical_id, route_id)
            key = str(route.get("RouteKey"))
            api.routes[key] = WsRoute(
                key, function, bool(route.get("RouteResponseSelectionExpression"))
            )
        apis.append(api)
    return apis


def _select(expression: str, body: str) -> str | None:
    """Evaluate `$request.body.<path>` against a JSON text frame."""
    if not expression.startswith("$request.body."):
        return None
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in expression.removeprefix("$request.body.").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, str) else None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Socket:
    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str | None
    opened: threading.Event = field(default_factory=threading.Event)
    connection: Any = None
    last_active_at: int = 0


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WebSocketServer:
    """One WebSocket API: the socket server and its Management API."""

    def __init__(
        self,
        api: WsApi,
        *,
        host: str = "127.0.0.1",
        port: int = 3001,
        callback_port: int = 0,
        account_id: str = "123456789012",
    ) -> None:
        self.api = api
        self.host = host
        self.port = port
        self.callback_port = callback_port
        self.account_id = account_id
        self.sockets: dict[str, _Socket] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._management: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.api.stage}"

    @property
    def callback_url(self) -> str:
        return f"http://{self.host}:{self.callback_port}/{self.api.stage}"

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        from websockets.sync.server import serve

        self._server = serve(
            self._serve_connection,
            self.host,
            self.port,
            process_request=self._handshake,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            ping_interval=None,  # API Gateway's idle timeout (10 min) is not emulated
            logger=logging.getLogger("infra.local.websocket.protocol"),
        )
        self.port = self._server.socket.getsockname()[1]
        self._management = make_server(
            self.host,
            self.callback_port,
            self._management_app,
            threaded=True,
            request_handler=_QuietHandler,
        )
        self.callback_port = self._management.server_port
        for target, name in (
            (self._server.serve_forever, "ws"),
            (self._management.serve_forever, "ws-management"),
        ):
            thread = threading.Thread(target=target, name=f"kefu-local-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        with self._lock:
            sockets = list(self.sockets.values())
        for sock in sockets:
            if sock.connection is not None:
                with contextlib.suppress(Exception):
                    sock.connection.close(1001, "going away")
        if self._management is not None:
            self._management.shutdown()
            self._management.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._server = self._management = None

    # -- events ------------------------------------------------------------------------------

    def _context(self, sock: _Socket, route_key: str, event_type: str) -> dict[str, Any]:
        now = _now()
        request_id = base64.b64encode(secrets.token_bytes(6)).decode()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": sock.connected_at,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": sock.source_ip, "userAgent": sock.user_agent},
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": sock.connection_id,
            "apiId": self.api.api_id,
        }

    def _invoke(self, route: WsRoute, event: dict[str, Any]) -> tuple[int, Any]:
        """(status, result); status 502 when the function fails or answers nonsense."""
        assert route.function is not None
        try:
            result = route.function.invoke(event)
        except FunctionError:
            return 502, None
        except Exception:
            log.exception("%s: invocation failed in the runner", route.function.name)
            return 502, None
        if result is None:
            return 200, None  # API Gateway treats an empty answer as success
        if not isinstance(result, dict):
            return 502, None
        try:
            return int(result.get("statusCode", 200)), result
        except (TypeError, ValueError):
            return 502, None

    # -- connection lifecycle ----------------------------------------------------------------

    def _handshake(self, connection: Any, request: Any) -> Any:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") not in ("", f"/{self.api.stage}"):
            return connection.respond(403, "Forbidden\n")
        headers = {k: v for k, v in request.headers.raw_items()}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.raw_items():
            multi_headers.setdefault(key, []).append(value)
        query = parse_qs(parts.query, keep_blank_values=True)
        remote = connection.remote_address
        sock = _Socket(
            connection_id=base64.b64encode(secrets.token_bytes(9)).decode().replace("/", "_"),
            connected_at=int(time.time() * 1000),
            source_ip=str(remote[0]) if remote else "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
        )
        sock.last_active_at = sock.connected_at
        with self._lock:
            self.sockets[sock.connection_id] = sock  # pending: pushes wait for the open
        connection.kefu_socket = sock
        route = self.api.routes.get("$connect")
        if route is None or route.function is None:
            return None
        event = {
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": self._context(sock, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }
        status, _ = self._invoke(route, event)
        log.info("ws $connect %s -> %s", sock.connection_id, status)
        if not 200 <= status < 300:
            with self._lock:
                self.sockets.pop(sock.connection_id, None)
            return connection.respond(
                status, "Forbidden\n" if status < 500 else "Internal server error\n"
            )
        return None

    def _serve_connection(self, connection: Any) -> None:
        sock: _Socket = connection.kefu_socket
        sock.connection = connection
        sock.opened.set()
        try:
            for message in connection:
                sock.last_active_at = int(time.time() * 1000)
                self._on_message(sock, message)
        except Exception as exc:
            log.debug("ws %s ended: %s", sock.connection_id, exc)
        finally:
            with self._lock:
                self.sockets.pop(sock.connection_id, None)
            route = self.api.routes.get("$disconnect")
            if route is not None and route.function is not None:
                context = self._context(sock, "$disconnect", "DISCONNECT")
                context["disconnectStatusCode"] = connection.close_code or 1006
                context["disconnectReason"] = connection.close_reason or ""
                event = {
                    "headers": {"Host": self.domain_name},
                    "requestContext": context,
                    "isBase64Encoded": False,
                }
                status, _ = self._invoke(route, event)
                log.info("ws $disconnect %s -> %s", sock.connection_id, status)

    def _on_message(self, sock: _Socket, message: str | bytes) -> None:
        binary = isinstance(message, bytes)
        body = base64.b64encode(message).decode() if binary else message
        key = None if binary else _select(self.api.selection_expression, message)
        route = self.api.routes.get(key) if key else None
        route = route or self.api.routes.get("$default")
        context = self._context(sock, route.key if route else "$default", "MESSAGE")
        context["messageId"] = base64.b64encode(secrets.token_bytes(6)).decode()
        if route is None or route.function is None:
            # What API Gateway answers when no route (and no $default) matches.
            self._answer(
                sock,
                {
                    "message": "Forbidden",
                    "connectionId": sock.connection_id,
                    "requestId": context["requestId"],
                },
            )
            return
        event = {"requestContext": context, "body": body, "isBase64Encoded": binary}
        status, result = self._invoke(route, event)
        log.info("ws %s %s -> %s", route.key, sock.connection_id, status)
        if status >= 500 and result is None:
            self._answer(
                sock,
                {
                    "message": "Internal server error",
                    "connectionId": sock.connection_id,
                    "requestId": context["requestId"],
                },
            )
        elif route.two_way and result is not None and result.get("body") is not None:
            self._send(sock, result["body"])

    def _answer(self, sock: _Socket, payload: dict[str, Any]) -> None:
        self._send(sock, json.dumps(payload))

    @staticmethod
    def _send(sock: _Socket, data: str | bytes) -> bool:
        try:
            sock.connection.send(data)
        except Exception:
            return False
        return True

    # -- Management API ----------------------------------------------------------------------

    def _management_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._manage(request)
        return response(environ, start_response)

    def _manage(self, request: Request) -> Response:
        path = request.path
        if path.startswith(f"/{self.api.stage}/"):
            path = path[len(self.api.stage) + 1 :]
        prefix = "/@connections/"
        if not path.startswith(prefix) or "/" in path[len(prefix) :]:
            return _error(404, "NotFoundException", "no such resource")
        connection_id = path[len(prefix) :]
        with self._lock:
            sock = self.sockets.get(connection_id)
        if sock is not None and not sock.opened.wait(OPEN_WAIT_SECONDS):
            sock = None
        if sock is None or sock.connection is None:
            return _error(410, "GoneException", None)
        if request.method == "POST":
            data = request.get_data(cache=False)
            if len(data) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "message too large")
            try:
                payload: str | bytes = data.decode("utf-8")
            except UnicodeDecodeError:
                payload = data
            if not self._send(sock, payload):
                return _error(410, "GoneException", None)
            return Response(b"", 200, headers={"x-amzn-RequestId": str(uuid.uuid4())})
        if request.method == "GET":
            return Response(
                json.dumps(
                    {
                        "connectedAt": _iso(sock.connected_at),
                        "identity": {"sourceIp": sock.source_ip, "userAgent": sock.user_agent},
                        "lastActiveAt": _iso(sock.last_active_at),
                    }
                ),
                200,
                mimetype="application/json",
            )
        if request.method == "DELETE":
            with contextlib.suppress(Exception):
                sock.connection.close(1000, "closed by the server")
            return Response(b"", 204)
        return _error(405, "MethodNotAllowedException", "use POST, GET or DELETE")


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, error_type: str, message: str | None) -> Response:
    response = Response(json.dumps({"message": message}), status, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = error_type
    return response


def callback_rewrites(servers: list[WebSocketServer], template: Template) -> dict[str, str]:
    """AWS URL of each API's stage (https:// for the Management API, wss:// for clients) ->
    its local equivalent."""
    rewrites = {}
    for server in servers:
        api, region, suffix = server.api, template.region, template.url_suffix
        host = f"{api.api_id}.execute-api.{region}.{suffix}/{api.stage}"
        rewrites[f"https://{host}"] = server.callback_url
        rewrites[f"wss://{host}"] = server.url
    return rewrites
