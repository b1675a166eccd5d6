"""Specification: what every HTTP route checks before its view runs — query parameters against
the values docs/openapi.yaml declares, page cursors signed for one shop and one query, and
request bodies that must be UTF-8 JSON."""

import base64
import json

import pytest

from tests.support.factories import customer_says, make_shop


@pytest.fixture
def two_shops(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    for i in range(3):
        customer_says("shop-a", f"openid-a{i}", f"你好 {i}")
        customer_says("shop-b", f"openid-b{i}", f"你好 {i}")


@pytest.mark.parametrize(
    ("method", "url", "query", "code"),
    [
        ("GET", "/v1/audit", {"target_type": "AAA"}, "invalid_target_type"),
        ("GET", "/v1/knowledge/export", {"format": "pdf"}, "invalid_format"),
        ("POST", "/v1/knowledge/publish", {"scope": "everything"}, "invalid_scope"),
        ("GET", "/v1/conversations", {"limit": ""}, "invalid_limit"),
        ("GET", "/v1/conversations", {"limit": "null"}, "invalid_limit"),
        ("GET", "/v1/notifications", {"unread": "null"}, "invalid_unread"),
        ("GET", "/v1/agents", {"status": "sleeping"}, "invalid_status"),
        ("GET", "/v1/bot/suggestions", {"days": "365"}, "invalid_days"),
    ],
)
def test_query_values_outside_the_documented_schema_are_400(
    gateway, staff_token, two_shops, method, url, query, code
):
    token = staff_token("shop-a", "laoban", "owner")
    answer = gateway.request(method, url, token=token, query=query)
    assert answer.status == 400, answer.text
    assert answer.error["code"] == code
    assert next(iter(query)) in answer.error["message"]


def test_documented_query_values_still_pass(gateway, staff_token, two_shops):
    token = staff_token("shop-a", "laoban", "owner")
    for url, query in [
        ("/v1/notifications", {"unread": "true"}),
        ("/v1/conversations", {"limit": "2", "status": "queued"}),
        ("/v1/audit", {"target_type": "staff", "target_id": "laoban"}),
        ("/v1/knowledge/export", {"format": "xlsx"}),
        ("/v1/conversations", {"q": "", "utm_source": "x"}),  # undeclared: ignored
    ]:
        answer = gateway.get(url, token=token, query=query)
        assert answer.status == 200, (url, answer.text)


def _page(gateway, token, query):
    answer = gateway.get("/v1/conversations", token=token, query=query)
    return answer


def test_a_cursor_pages_the_query_it_was_returned_for(gateway, staff_token, two_shops):
    token = staff_token("shop-a", "laoban", "owner")
    first = _page(gateway, token, {"status": "queued", "limit": "2"})
    cursor = first.json()["next_cursor"]
    assert cursor
    # The same query, another page size: still the same query.
    second = _page(gateway, token, {"status": "queued", "limit": "5", "cursor": cursor})
    assert second.status == 200, second.text
    seen = [c["conversation_id"] for c in first.json()["conversations"]]
    seen += [c["conversation_id"] for c in second.json()["conversations"]]
    assert len(seen) == len(set(seen)) == 3


def test_a_tampered_forged_or_foreign_cursor_is_400(gateway, staff_token, two_shops):
    token_a = staff_token("shop-a", "laoban", "owner")
    token_b = staff_token("shop-b", "boss", "owner")
    cursor = _page(gateway, token_a, {"status": "queued", "limit": "1"}).json()["next_cursor"]
    payload, mac = cursor.split(".")
    key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    key["conversation_id"] = {"S": "cv_somebody_elses"}
    edited = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    unsigned = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    for label, token, query in [
        ("tampered", token_a, {"status": "queued", "cursor": f"{edited}.{mac}"}),
        ("unsigned (the old format)", token_a, {"status": "queued", "cursor": unsigned}),
        ("garbage", token_a, {"status": "queued", "cursor": "%%%.!!!"}),
        ("another query", token_a, {"status": "assigned", "cursor": cursor}),
        ("an extra filter", token_a, {"cursor": cursor, "status": "queued", "queue": "vip"}),
        ("another shop", token_b, {"status": "queued", "cursor": cursor}),
    ]:
        answer = _page(gateway, token, query)
        assert answer.status == 400, (label, answer.text)
        assert answer.error["code"] == "invalid_cursor", label
        assert "without a cursor" in answer.error["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"scope": "shop", "title": "\xff\xfe", "text": "hi"}',
        b"\xff\xfe{}",
        '{"scope": "shop"}'.encode("utf-16"),
    ],
)
def test_a_body_that_is_not_utf8_is_400(gateway, staff_token, two_shops, raw):
    token = staff_token("shop-a", "laoban", "owner")
    answer = gateway.request(
        "POST",
        "/v1/quick-replies",
        token=token,
        body=raw,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 400, answer.text
    assert answer.error["code"] == "malformed_json"
