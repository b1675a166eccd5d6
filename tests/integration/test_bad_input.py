"""Bad requests through the real gateway get a clear 4xx, never a 500: kefu's functions answer
{"error": {"code", "message", "request_id"}}; API Gateway itself answers unknown routes."""

from __future__ import annotations

import pytest

from tests.integration.kefu_http import Api, unique

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def customer(api: Api) -> str:
    return api.customer_login("demo", unique("bad-input"))["token"]


def _error(resp) -> dict:
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    error = resp.json()["error"]
    assert error["message"]
    assert error["request_id"]  # the gateway's requestId, to find the log line
    return error


LOGIN = "/v1/auth/wechat"
WRONG_PASSWORD = b'{"shop_id": "demo", "username": "agent1", "password": "nope"}'


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", LOGIN, b'{"shop_id": "demo", "code": ', 400, "malformed_json"),
        ("POST", LOGIN, b"", 400, "empty_body"),
        ("POST", LOGIN, b'{"shop_id": "demo"}', 400, "validation_error"),
        ("POST", LOGIN, b'{"shop_id": "Not A Shop!", "code": "x"}', 400, "validation_error"),
        ("POST", "/v1/staff/login", WRONG_PASSWORD, 401, "bad_credentials"),
        ("GET", "/v1/conversations?status=queued", None, 401, "missing_token"),
        ("GET", "/v1/messages", None, 401, "missing_token"),
        ("POST", "/v1/staff", b'{"username": "x", "role": "agent"}', 401, "missing_token"),
    ],
)
def test_without_a_valid_caller_or_body(api: Api, method, path, body, status, code):
    resp = api.request(method, path, data=body, headers=JSON)

    assert resp.status_code == status, resp.text
    assert _error(resp)["code"] == code


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b'["a", "list"]', 400, "validation_error"),
        (b'{"type": "text"}', 400, "validation_error"),
        (b'{"type": "sticker", "text": "?"}', 400, "validation_error"),
        (b'{"type": "text", "text": "hi", "extra": 1}', 400, "validation_error"),
        (('{"type": "text", "text": "' + "长" * 2001 + '"}').encode(), 400, "validation_error"),
        (('{"type": "text", "text": "' + "x" * 100_000 + '"}').encode(), 413, "payload_too_large"),
    ],
    ids=["malformed", "not-an-object", "missing-text", "unknown-type", "unknown-field",
         "text-too-long", "oversized"],
)  # fmt: skip
def test_customer_message_bodies_are_validated(api: Api, customer: str, body, status, code):
    resp = api.post("/v1/messages", customer, data=body, headers=JSON)

    assert resp.status_code == status, resp.text
    assert _error(resp)["code"] == code


def test_forged_or_garbage_tokens_are_401(api: Api, customer: str):
    for token in ("garbage", customer[:-4] + "AAAA"):
        resp = api.get("/v1/messages", token)
        assert resp.status_code == 401, resp.text
        assert _error(resp)["code"]
    staff = api.get("/v1/conversations?status=queued", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    assert staff.status_code == 401, staff.text
    assert _error(staff)["code"] == "invalid_token"


def test_bad_query_parameters(api: Api, agent1: str):
    status = api.get("/v1/conversations", agent1, params={"status": "sleeping"})
    assert status.status_code == 400, status.text
    assert _error(status)["code"] == "invalid_status"
    cursor = api.get("/v1/conversations", agent1, params={"status": "queued", "cursor": "%%%"})
    assert cursor.status_code == 400, cursor.text
    assert _error(cursor)["code"] == "invalid_cursor"
    missing = api.get("/v1/conversations/cv_does_not_exist", agent1)
    assert missing.status_code == 404, missing.text
    assert _error(missing)["code"] == "conversation_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nothing-here"), ("DELETE", "/v1/messages"), ("GET", "/")],
)
def test_unknown_routes_are_answered_by_the_gateway(api: Api, method, path):
    resp = api.request(method, path)

    # What API Gateway (REST) answers for a resource or method it does not have.
    assert resp.status_code == 403
    assert resp.json() == {"message": "Missing Authentication Token"}
    assert resp.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_push_for_an_unknown_shop_or_without_signature_is_refused(api: Api):
    unknown = api.post("/v1/wechat/no-such-shop/push", data=b"{}", headers=JSON)
    assert unknown.status_code == 404, unknown.text
    assert _error(unknown)["code"] == "shop_not_found"
    unsigned = api.post("/v1/wechat/demo/push", data=b'{"MsgType": "text"}', headers=JSON)
    assert unsigned.status_code == 401, unsigned.text
    huge = api.post("/v1/wechat/demo/push", data=b"x" * (65 * 1024), headers=JSON)
    assert huge.status_code == 413, huge.text


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("GET", "/v1/audit", {"target_type": "AAA"}, "invalid_target_type"),
        ("GET", "/v1/knowledge/export", {"format": "garbage"}, "invalid_format"),
        ("POST", "/v1/knowledge/publish", {"scope": "everyone"}, "invalid_scope"),
        ("GET", "/v1/conversations", {"limit": ""}, "invalid_limit"),
        ("GET", "/v1/notifications", {"unread": "null"}, "invalid_unread"),
    ],
)
def test_query_values_outside_the_documented_ones_are_400(
    api: Api, owner: str, method, path, params, code
):
    resp = api.request(method, path, params=params, headers={"Authorization": f"Bearer {owner}"})
    assert resp.status_code == 400, resp.text
    assert _error(resp)["code"] == code


def test_a_body_that_is_not_utf8_and_a_customer_token_on_a_staff_route(api: Api, customer: str):
    latin = api.post(
        "/v1/messages", customer, data=b'{"type":"text","text":"\xe9t\xe9"}', headers=JSON
    )
    assert latin.status_code == 400, latin.text
    assert _error(latin)["code"] == "malformed_json"
    staff = api.get("/v1/conversations", customer)
    assert staff.status_code == 401, staff.text
    assert "a customer token was given" in _error(staff)["message"]


def test_a_cursor_is_for_one_shop_and_one_query(api: Api, owner: str, agent2: str):
    first = api.get("/v1/conversations", owner, params={"limit": "1"})
    cursor = first.json()["next_cursor"]
    assert cursor, first.text
    more = api.get("/v1/conversations", owner, params={"limit": "2", "cursor": cursor})
    assert more.status_code == 200, more.text
    for token, params in [
        (owner, {"cursor": cursor, "status": "queued"}),  # another query
        (agent2, {"cursor": cursor}),  # the same query, in another shop
    ]:
        resp = api.get("/v1/conversations", token, params=params)
        assert resp.status_code == 400, resp.text
        assert _error(resp)["code"] == "invalid_cursor"
