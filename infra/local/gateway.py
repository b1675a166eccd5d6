"""API Gateway (REST API, Lambda proxy integration) in front of the local functions.

Routes come from the functions' `Api` events. Requests become version 1.0 proxy events, the
function's proxy response becomes the HTTP response, and the error answers are API Gateway's:
403 "Missing Authentication Token" for unknown routes and methods, 502 "Internal server error"
when the function fails or answers something that is not a proxy response, 413 over 10 MB.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local.functions import FunctionError, LocalFunction
from infra.local.resources import Registry
from infra.local.template import IMPLICIT_API

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

# Treated as binary even without BinaryMediaTypes, so uploads reach functions intact.
DEFAULT_BINARY_TYPES = (
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "image/*",
    "audio/*",
    "video/*",
    "multipart/form-data",
)


@dataclass
class ApiConfig:
    """The parts of an AWS::Serverless::Api the gateway honours."""

    logical_id: str
    api_id: str
    stage: str
    cors: dict[str, str] | None = None
    binary_media_types: list[str] = field(default_factory=list)
    stage_variables: dict[str, str] | None = None


@dataclass
class Route:
    path: str  # resource path as in the template, e.g. /v1/conversations/{id}/replies
    method: str  # upper-case, or ANY
    function: LocalFunction
    api: ApiConfig
    event_name: str = ""

    def __post_init__(self) -> None:
        self.segments = _split(self.path)

    def match(self, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity, path parameters) if the request path matches this resource."""
        params: dict[str, str] = {}
        score: list[int] = []
        for index, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                rest = segments[index:]
                if not rest:
                    return None
                params[pattern[1:-2]] = "/".join(rest)
                score.append(0)
                return tuple(score), params
            if index >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                params[pattern[1:-1]] = segments[index]
                score.append(1)
            elif pattern == segments[index]:
                score.append(2)
            else:
                return None
        if len(segments) != len(self.segments):
            return None
        return tuple(score), params


def _split(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def _strip_quotes(value: Any) -> str:
    # SAM's Cors values are quoted header values: AllowOrigin: "'*'".
    text = str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def api_configs(registry: Registry) -> dict[str, ApiConfig]:
    """ApiConfig per API id (what a function event's RestApiId resolves to)."""
    configs = {}
    for record in registry.of_type("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
        props = record.details.get("properties") or {}
        cors_value = props.get("Cors")
        cors: dict[str, str] | None = None
        if isinstance(cors_value, str):
            cors = {"AllowOrigin": _strip_quotes(cors_value)}
        elif isinstance(cors_value, dict):
            cors = {k: _strip_quotes(v) for k, v in cors_value.items()}
        auth = props.get("Auth") or {}
        if auth.get("Authorizers") or auth.get("DefaultAuthorizer"):
            log.warning(
                "%s: API Gateway authorizers are not enforced locally (functions still see the "
                "Authorization header)",
                record.logical_id,
            )
        variables = props.get("Variables")
        configs[str(record.physical_id)] = ApiConfig(
            logical_id=record.logical_id,
            api_id=str(record.physical_id),
            stage=str(record.details.get("stage") or "Prod"),
            cors=cors,
            binary_media_types=[
                str(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or []
            ],
            stage_variables={str(k): str(v) for k, v in variables.items()} if variables else None,
        )
    return configs


def build_routes(functions: dict[str, LocalFunction], registry: Registry) -> list[Route]:
    configs = api_configs(registry)
    implicit = registry.get(IMPLICIT_API)
    routes = []
    for function in functions.values():
        for event_name, event in function.events.items():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            api_id = props.get("RestApiId") or (implicit.physical_id if implicit else None)
            api = configs.get(str(api_id))
            if api is None:
                log.warning(
                    "%s/%s: API %s is not in the template", function.name, event_name, api_id
                )
                continue
            method = str(props.get("Method", "ANY")).upper()
            routes.append(Route(str(props["Path"]), method, function, api, event_name))
    seen: dict[tuple[str, str], Route] = {}
    for route in routes:
        key = ("/".join("{}" if s.startswith("{") else s for s in route.segments), route.method)
        if key in seen:
            log.warning(
                "%s %s is routed to both %s and %s; the first wins",
                route.method,
                route.path,
                seen[key].function.name,
                route.function.name,
            )
        seen.setdefault(key, route)
    return routes


class _QuietHandler(WSGIRequestHandler):
    """The gateway logs one line per request itself; skip werkzeug's access log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _error(status: int, message: str, error_type: str | None = None) -> Response:
    response = Response(json.dumps({"message": message}), status, mimetype="application/json")
    if error_type:
        response.headers["x-amzn-ErrorType"] = error_type
    return response


class Gateway:
    """WSGI app + threaded werkzeug server answering like API Gateway's REST API."""

    def __init__(
        self,
        routes: list[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        account_id: str = "123456789012",
    ) -> None:
        self.routes = routes
        self.host = host
        self.port = port
        self.account_id = account_id
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.site: Any = None  # infra.local.console.ConsoleSite: paths no route claims

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        self._server = make_server(
            self.host, self.port, self, threaded=True, request_handler=_QuietHandler
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kefu-local-gateway", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.monotonic()
        response = self.handle(request)
        log.info(
            "%s %s -> %s (%.0f ms)",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[Route]]:
        """(route for method, path parameters, every route on the matched resource path)."""
        segments = _split(path)
        matches = []
        for route in self.routes:
            matched = route.match(segments)
            if matched is not None:
                matches.append((matched[0], route, matched[1]))
        if not matches:
            return None, {}, []
        # API Gateway picks the most specific resource: static beats {param} beats {proxy+}.
        top = max(score for score, _, _ in matches)
        on_resource = [(route, params) for score, route, params in matches if score == top]
        for wanted in (method, "ANY"):
            for route, params in on_resource:
                if route.method == wanted:
                    return route, params, [r for r, _ in on_resource]
        return None, {}, [r for r, _ in on_resource]

    def handle(self, request: Request) -> Response:
        length = request.content_length or 0
        if length > MAX_BODY_BYTES:
            return _error(413, f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.")
        path = request.path or "/"
        route, params, resource_routes = self.find(request.method, path)
        if not resource_routes:
            # `sam local`-style URLs have no stage; accept /<stage>/... too.
            stages = {r.api.stage for r in self.routes}
            for stage in stages:
                if path.startswith(f"/{stage}/"):
                    path = path[len(stage) + 1 :]
                    route, params, resource_routes = self.find(request.method, path)
                    break
        if not resource_routes and self.site is not None:
            page = self.site.answer(request)  # the console (infra/local/console.py)
            if page is not None:
                return page
        if not resource_routes:
            return _error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        if request.method == "OPTIONS" and (route is None or route.method != "OPTIONS"):
            api = resource_routes[0].api
            if api.cors:
                return self._preflight(api, resource_routes)
        if route is None:
            return _error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.")
        event = self.build_event(request, route, path, params, body)
        try:
            result = route.function.invoke(event)
        except FunctionError:
            return _error(502, "Internal server error")
        except Exception:  # a runner bug must not look like a function's answer
            log.exception("%s: invocation failed in the runner", route.function.name)
            return _error(502, "Internal server error")
        return self.build_response(route, result)

    # -- event and response ------------------------------------------------------------------

    def build_event(
        self,
        request: Request,
        route: Route,
        path: str,
        path_params: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            headers[key] = value
            multi_headers.setdefault(key, []).append(value)
        source_ip = request.remote_addr or "127.0.0.1"
        for key, value in (
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-Proto", "http"),
        ):
            if key not in headers:
                headers[key] = value
                multi_headers[key] = [value]
        query = {key: values[-1] for key, values in request.args.lists()}
        multi_query = {key: list(values) for key, values in request.args.lists()}
        content_type = request.headers.get("Content-Type", "")
        is_binary = bool(body) and self._is_binary(route.api, content_type, body)
        if not body:
            body_text = None
        elif is_binary:
            body_text = base64.b64encode(body).decode("ascii")
        else:
            body_text = body.decode("utf-8")
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        api = route.api
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": api.stage_variables,
            "requestContext": {
                "resourceId": hashlib.sha1(route.path.encode()).hexdigest()[:6],
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{api.stage}{path}",
                "accountId": self.account_id,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": api.stage,
                "domainPrefix": request.host.split(".")[0].split(":")[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.headers.get("User-Agent"),
                    "user": None,
                },
                "domainName": request.host,
                "apiId": api.api_id,
            },
            "body": body_text,
            "isBase64Encoded": is_binary,
        }

    @staticmethod
    def _is_binary(api: ApiConfig, content_type: str, body: bytes) -> bool:
        media_type = content_type.split(";")[0].strip().lower()
        patterns = [*api.binary_media_types, *DEFAULT_BINARY_TYPES]
        if media_type and any(fnmatch.fnmatch(media_type, p.lower()) for p in patterns):
            return True
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return True  # API Gateway would mangle it; base64 keeps the bytes intact
        return False

    def build_response(self, route: Route, result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            log.error(
                "%s: malformed Lambda proxy response (needs statusCode): %r",
                route.function.name,
                result,
            )
            return _error(502, "Internal server error")
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError):
            log.error(
                "%s: statusCode %r is not a number", route.function.name, result["statusCode"]
            )
            return _error(502, "Internal server error")
        headers = Headers()
        multi = result.get("multiValueHeaders") or {}
        for key, value in (result.get("headers") or {}).items():
            if key not in multi:  # API Gateway: multiValueHeaders win for the same key
                headers.add(key, str(value))
        for key, values in multi.items():
            for value in values if isinstance(values, list) else [values]:
                headers.add(key, str(value))
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            try:
                data = base64.b64decode(body)
            except (ValueError, TypeError):
                log.error("%s: isBase64Encoded but body is not base64", route.function.name)
                return _error(502, "Internal server error")
        else:
            data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode()
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return Response(data, status, headers=headers)

    @staticmethod
    def _preflight(api: ApiConfig, resource_routes: list[Route]) -> Response:
        """What SAM's Cors setting makes API Gateway answer to OPTIONS (a MOCK integration)."""
        cors = api.cors or {}
        allowed = {"OPTIONS"}
        for route in resource_routes:
            if route.method == "ANY":
                allowed |= {"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"}
            else:
                allowed.add(route.method)
        methods = cors.get("AllowMethods") or ",".join(sorted(allowed))
        headers = Headers()
        headers["Access-Control-Allow-Origin"] = cors.get("AllowOrigin", "*")
        headers["Access-Control-Allow-Methods"] = methods
        if cors.get("AllowHeaders"):
            headers["Access-Control-Allow-Headers"] = cors["AllowHeaders"]
        if cors.get("MaxAge"):
            headers["Access-Control-Max-Age"] = cors["MaxAge"]
        if str(cors.get("AllowCredentials", "")).lower() == "true":
            headers["Access-Control-Allow-Credentials"] = "true"
        headers["Content-Type"] = "application/json"
        return Response(b"{}", 200, headers=headers)
