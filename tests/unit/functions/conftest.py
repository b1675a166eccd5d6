"""An in-process API Gateway for handler tests: requests are routed by template.yaml's Api events
to the function's handler (imported from its CodeUri), as REST API proxy events. Every answer is
checked for what must never reach a caller (a 500, a stack trace) and against docs/openapi.yaml
(the status is documented for the operation, a JSON body fits its schema)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator
from referencing import Registry

from infra.local.template import load_yaml

ROOT = Path(__file__).resolve().parents[3]
STAGE = "test"
# Meets the user pool's default password policy (moto enforces it).
STAFF_PASSWORD = "Kefu-Test-123!"


class LambdaContext:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2024/01/01/[$LATEST]test"
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    resource: str  # "/v1/conversations/{conversation_id}"

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.resource))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        body = self.json()
        assert set(body) == {"error"}, body
        return body["error"]

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")


@cache
def _resources() -> dict[str, Any]:
    return load_yaml(ROOT / "template.yaml")["Resources"]


@cache
def _routes() -> list[Route]:
    resources = _resources()
    found = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                found.append(Route(name, props["Method"].upper(), props["Path"]))
    return found


@cache
def _module(function: str) -> Any:
    """The function's handler module, imported from its CodeUri under a unique name."""
    props = _resources()[function]["Properties"]
    module = props["Handler"].rpartition(".")[0]
    path = ROOT / props["CodeUri"] / f"{module}.py"
    name = f"kefu_api_test_{function}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _handler(function: str) -> Any:
    props = _resources()[function]["Properties"]
    return getattr(_module(function), props["Handler"].rpartition(".")[2])


def rest_event(
    route: Route,
    path: str,
    path_params: dict[str, str],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes | None,
) -> dict[str, Any]:
    """What API Gateway (REST API, Lambda proxy integration) hands the function."""
    request_id = str(uuid.uuid4())
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        single_query[key] = value
        multi_query.setdefault(key, []).append(value)
    headers = {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "kefu-tests",
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **headers,
    }
    binary = False
    if body:
        try:
            body_text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text, binary = base64.b64encode(body).decode("ascii"), True
    else:
        body_text = None
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": route.resource,
            "httpMethod": route.method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "path": f"/{STAGE}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "abc123",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "kefu-tests"},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
        },
        "body": body_text,
        "isBase64Encoded": binary,
    }


@cache
def _openapi() -> dict[str, Any]:
    # libyaml's parser (the same SafeLoader constructors and resolvers), four times faster.
    return yaml.load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"), yaml.CSafeLoader)


@cache
def _response_validator(resource: str, method: str, status: str) -> OAS30Validator:
    """The validator of one documented JSON response, built (and its schema checked) once.

    What openapi_schema_validator.validate does per call, minus its per-call cache key: that
    key is a frozen copy of the whole schema, components included (~15 ms per answer)."""
    doc = _openapi()
    response = doc["paths"][resource][method]["responses"][status]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": doc["components"]}
    OAS30Validator.check_schema(schema)
    return OAS30Validator(schema, registry=Registry())


def check_documented(route: Route, answer: Answer) -> None:
    """docs/openapi.yaml lists this status for the operation, and the body fits its schema."""
    doc = _openapi()
    responses = doc["paths"][route.resource][route.method.lower()]["responses"]
    assert str(answer.status) in responses, (
        f"{route.method} {route.resource} answered {answer.status}, which docs/openapi.yaml "
        f"does not list: {answer.text[:200]}"
    )
    response = responses[str(answer.status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    media_type = answer.content_type.split(";")[0].strip()
    content = response.get("content") or {}
    assert media_type in content, (
        f"{route.method} {route.resource} {answer.status}: documented as {sorted(content)}, "
        f"answered {media_type}"
    )
    if media_type == "application/json":
        validator = _response_validator(route.resource, route.method.lower(), str(answer.status))
        error = best_match(validator.iter_errors(answer.json()))
        if error is not None:
            raise error


class Gateway:
    """Sends requests to the function template.yaml routes them to."""

    def __init__(self) -> None:
        self.last_event: dict[str, Any] | None = None

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        crash_expected: bool = False,
    ) -> Answer:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True) + list((query or {}).items())
        sent_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and not any(k.lower() == "content-type" for k in sent_headers):
            sent_headers["Content-Type"] = "application/json"
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        matches = [
            (route, params)
            for route in _routes()
            if route.method == method.upper() and (params := route.match(parts.path)) is not None
        ]
        assert len(matches) == 1, f"template.yaml routes {method} {parts.path} to {matches}"
        route, params = matches[0]
        event = rest_event(route, parts.path, params, pairs, sent_headers, body)
        self.last_event = event
        result = _handler(route.function)(event, LambdaContext(route.function))
        raw = result.get("body") or ""
        if result.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        answer = Answer(int(result["statusCode"]), dict(result.get("headers") or {}), raw)
        # Nothing a caller can send may crash a handler or leak its internals.
        assert "Traceback" not in answer.text and 'File "' not in answer.text, answer.text
        if crash_expected:
            return answer
        assert answer.status < 500 or answer.status == 503, (answer.status, answer.text)
        check_documented(route, answer)
        return answer

    def get(self, url: str, **kwargs: Any) -> Answer:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Answer:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Answer:
        return self.request("PATCH", url, **kwargs)

    # -- credentials -------------------------------------------------------------------------

    def app_login(self, shop_id: str, user_id: str, **extra: Any) -> Answer:
        """POST /v1/auth/app signed as the shop's server (the factories' app-login key)."""
        raw = json.dumps(
            {"shop_id": shop_id, "user_id": user_id, "timestamp": int(time.time()), **extra},
            ensure_ascii=False,
        ).encode()
        signature = hmac.new(f"{shop_id}-app-login-key".encode(), raw, hashlib.sha256)
        return self.post(
            "/v1/auth/app", body=raw, headers={"X-Kefu-Signature": signature.hexdigest()}
        )

    def customer_token(self, shop_id: str, user_id: str = "u-1") -> str:
        answer = self.app_login(shop_id, user_id)
        assert answer.status == 200, answer.text
        return answer.json()["token"]

    def staff_login(self, shop_id: str, username: str, password: str = STAFF_PASSWORD) -> Answer:
        return self.post(
            "/v1/staff/login",
            json_body={"shop_id": shop_id, "username": username, "password": password},
        )


@pytest.fixture
def gateway(kefu_env, monkeypatch) -> Gateway:
    # Staff tokens are verified against the pool's JWKS: answer its fetch with moto's key.
    # (tests/support/aws.py reads moto's jwks-public.json, which moto 5 ships gzipped.)
    import jwt
    from moto.utilities.utils import load_resource

    jwks = load_resource("cognitoidp/resources/jwks-public.json")
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
    return Gateway()


@pytest.fixture
def function_module():
    """function_module("IntakeFunction") -> the imported handler module, for monkeypatching."""

    return _module


@pytest.fixture
def staff_token(kefu_env, gateway):
    """staff_token(shop_id, username, role) -> a Cognito access token from /v1/staff/login."""
    from tests.support.factories import make_staff

    def issue(shop_id: str, username: str, role: str = "agent") -> str:
        make_staff(shop_id, username, role, password=STAFF_PASSWORD, pool_id=kefu_env.user_pool_id)
        answer = gateway.staff_login(shop_id, username)
        assert answer.status == 200, answer.text
        return answer.json()["access_token"]

    return issue
