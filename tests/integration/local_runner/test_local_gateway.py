"""The API gateway: routing, API Gateway REST proxy events, responses and error answers."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlparse

import requests

PNG = b"\x89PNG\r\n\x1a\n\x00\x01\x02\xff"


def echo(stack, method="GET", path="/v1/echo/a/b", **kwargs):
    response = requests.request(method, stack.api_url + path, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response, response.json()["event"]


def test_chalice_routes_with_path_parameter(stack):
    created = requests.put(f"{stack.api_url}/v1/items/42", json={"name": "teapot"}, timeout=10)
    assert created.status_code == 201
    assert created.json() == {"id": "42", "saved": True}
    got = requests.get(f"{stack.api_url}/v1/items/42?a=1&a=2&b=3", timeout=10)
    assert got.status_code == 200
    # Chalice's query_params keep the last value, as API Gateway's queryStringParameters do.
    assert got.json() == {
        "id": "42",
        "name": "teapot",
        "query": {"a": "2", "b": "3"},
        "stage": "local",
    }
    missing = requests.get(f"{stack.api_url}/v1/items/nope", timeout=10)
    assert missing.status_code == 404


def test_static_segment_beats_parameter_and_stage_prefix_works(stack):
    for path in ("/v1/items/special", "/local/v1/items/special"):
        response = requests.get(stack.api_url + path, timeout=10)
        assert response.status_code == 200
        body = response.json()
        assert body["special"] is True
    # The function sees its resolved environment while it runs.
    assert body["env"] == {
        "BUCKET": "kefu-local-mediabucket",
        "STAGE": "local",
        "ITEMS_TABLE": "kefu-local-ItemsTable",
        "AWS_LAMBDA_FUNCTION_NAME": "kefu-local-ApiFunction",
        "POWERTOOLS_SERVICE_NAME": "api",
    }


def test_proxy_event_shape(stack):
    response, event = echo(stack, headers={"X-Custom": "v1"})
    assert event["resource"] == "/v1/echo/{proxy+}"
    assert event["path"] == "/v1/echo/a/b"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert event["headers"]["X-Custom"] == "v1"
    assert event["multiValueHeaders"]["X-Custom"] == ["v1"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    ctx = event["requestContext"]
    assert ctx["resourcePath"] == "/v1/echo/{proxy+}"
    assert ctx["httpMethod"] == "GET"
    assert ctx["path"] == "/local/v1/echo/a/b"
    assert ctx["stage"] == "local"
    assert ctx["accountId"] == "123456789012"
    assert ctx["apiId"] == stack.resource("FixtureApi").physical_id
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"].startswith("python-requests")
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestId"]
    context = response.json()["context"]
    assert context["function_name"] == "kefu-local-RawFunction"
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:kefu-local-RawFunction"
    )
    assert context["log_group_name"] == "/aws/lambda/kefu-local-RawFunction"
    assert 0 < context["remaining_ms"] <= 10_000
    # Response: headers and multiValueHeaders both reach the client.
    assert response.headers["X-Single"] == "one"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_query_and_multi_value_parameters(stack):
    _, event = echo(stack, "POST", "/v1/echo/q?tag=a&tag=b&one=1&empty=", json={"hello": "世界"})
    assert event["queryStringParameters"] == {"tag": "b", "one": "1", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "tag": ["a", "b"],
        "one": ["1"],
        "empty": [""],
    }
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"hello": "世界"}


def test_binary_request_body_is_base64(stack):
    _, event = echo(
        stack, "POST", "/v1/echo/upload", data=PNG, headers={"Content-Type": "image/png"}
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == PNG
    # Not valid UTF-8 under a text type: still delivered intact, as base64.
    _, event = echo(
        stack, "POST", "/v1/echo/upload", data=b"\xff\xfe", headers={"Content-Type": "text/plain"}
    )
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"


def test_binary_response_is_decoded(stack):
    response = requests.get(f"{stack.api_url}/v1/echo/png", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content == PNG


def test_unknown_route_and_method_answer_missing_authentication_token(stack):
    for method, path in (
        ("GET", "/nope"),
        ("GET", "/v1"),
        ("DELETE", "/v1/items/1"),
        ("POST", "/"),
    ):
        response = requests.request(method, stack.api_url + path, timeout=10)
        assert response.status_code == 403, (method, path)
        assert response.json() == {"message": "Missing Authentication Token"}


def test_function_errors_become_502(stack):
    for path in ("/v1/echo/crash", "/v1/malformed"):
        response = requests.get(stack.api_url + path, timeout=10)
        assert response.status_code == 502
        assert response.json() == {"message": "Internal server error"}
    # Chalice catches its own exceptions and answers 500 itself.
    assert requests.get(f"{stack.api_url}/v1/boom", timeout=10).status_code == 500
    # The runner survived.
    assert requests.get(f"{stack.api_url}/v1/items/special", timeout=10).status_code == 200


def test_cors_preflight(stack):
    response = requests.options(
        f"{stack.api_url}/v1/items/9",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,PUT"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type,Authorization"
    assert requests.options(f"{stack.api_url}/nope", timeout=10).status_code == 403


def test_body_over_10_mb_is_rejected(stack):
    url = urlparse(stack.api_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/v1/echo/big")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
