"""Specification: the conversations function over HTTP — staff list, read, claim, assign, reply
to and resolve conversations, each within their own shop and role."""

import pytest

from tests.support.factories import customer_says, make_shop

REPLY = "您好，订单已于今天上午发出，请留意物流信息。"


@pytest.fixture
def shop_a(kefu_env):
    make_shop("shop-a")
    return customer_says("shop-a", "openid-1", "你好，我的订单什么时候发货？")


def test_an_agent_claims_replies_and_resolves_a_queued_conversation(
    gateway, staff_token, shop_a, kefu_env
):
    token = staff_token("shop-a", "xiaowang", "agent")
    conv = shop_a.conversation_id

    queued = gateway.get("/v1/conversations", token=token, query={"status": "queued"})
    assert queued.status == 200, queued.text
    assert [c["conversation_id"] for c in queued.json()["conversations"]] == [conv]
    assert (
        queued.json()["conversations"][0]["last_message_preview"] == "你好，我的订单什么时候发货？"
    )

    claimed = gateway.post(f"/v1/conversations/{conv}/claim", token=token)
    assert claimed.status == 200, claimed.text
    assert (claimed.json()["status"], claimed.json()["assignee"]) == ("assigned", "xiaowang")
    mine = gateway.get("/v1/conversations", token=token, query={"assignee": "me"})
    assert [c["conversation_id"] for c in mine.json()["conversations"]] == [conv]

    reply = gateway.post(
        f"/v1/conversations/{conv}/replies", token=token, json_body={"type": "text", "text": REPLY}
    )
    assert reply.status == 201, reply.text
    assert reply.json()["delivery_status"] == "pending"
    assert reply.json()["sender_id"] == "xiaowang"
    assert [e["data"]["content"] for e in kefu_env.events("reply.created")] == [{"text": REPLY}]

    page = gateway.get(f"/v1/conversations/{conv}/messages", token=token)
    assert page.status == 200, page.text
    messages = page.json()["messages"]
    assert [(m["direction"], m["content"]["text"]) for m in messages] == [
        ("in", "你好，我的订单什么时候发货？"),
        ("out", REPLY),
    ]
    assert page.json()["next_cursor"] == messages[-1]["cursor"]
    newer = gateway.get(
        f"/v1/conversations/{conv}/messages",
        token=token,
        query={"after": page.json()["next_cursor"]},
    )
    assert newer.json()["messages"] == [] and newer.json()["has_more"] is False

    resolved = gateway.post(f"/v1/conversations/{conv}/resolve", token=token)
    assert resolved.status == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    one = gateway.get(f"/v1/conversations/{conv}", token=token)
    assert (one.status, one.json()["status"]) == (200, "resolved")


def test_a_supervisor_assigns_and_an_agent_may_not(gateway, staff_token, shop_a):
    agent = staff_token("shop-a", "xiaowang", "agent")
    boss = staff_token("shop-a", "laoli", "supervisor")
    conv = shop_a.conversation_id
    refused = gateway.post(
        f"/v1/conversations/{conv}/assign", token=agent, json_body={"assignee": "xiaowang"}
    )
    assert (refused.status, refused.error["code"]) == (403, "permission_denied")
    assigned = gateway.post(
        f"/v1/conversations/{conv}/assign", token=boss, json_body={"assignee": "xiaowang"}
    )
    assert assigned.status == 200, assigned.text
    assert assigned.json()["assignee"] == "xiaowang"
    nobody = gateway.post(
        f"/v1/conversations/{conv}/assign", token=boss, json_body={"assignee": "ghost"}
    )
    assert (nobody.status, nobody.error["code"]) == (404, "staff_not_found")


def test_an_agent_must_claim_before_replying_and_sees_only_the_queue_and_their_own(
    gateway, staff_token, shop_a
):
    token = staff_token("shop-a", "xiaowang", "agent")
    conv = shop_a.conversation_id
    early = gateway.post(
        f"/v1/conversations/{conv}/replies", token=token, json_body={"type": "text", "text": "hi"}
    )
    assert (early.status, early.error["code"]) == (409, "not_assigned_to_you")
    others = gateway.get("/v1/conversations", token=token, query={"assignee": "laoli"})
    assert (others.status, others.error["code"]) == (403, "permission_denied")
    everything = gateway.get("/v1/conversations", token=token, query={"status": "resolved"})
    assert everything.status == 403


def test_staff_of_one_shop_cannot_see_or_touch_another_shops_conversation(
    gateway, staff_token, shop_a
):
    make_shop("shop-b")
    theirs = customer_says("shop-b", "openid-9", "hello").conversation_id
    owner_a = staff_token("shop-a", "laoban", "owner")
    for method, url, json_body in [
        ("GET", f"/v1/conversations/{theirs}", None),
        ("GET", f"/v1/conversations/{theirs}/messages", None),
        ("POST", f"/v1/conversations/{theirs}/claim", None),
        ("POST", f"/v1/conversations/{theirs}/assign", {"assignee": "laoban"}),
        ("POST", f"/v1/conversations/{theirs}/replies", {"type": "text", "text": "hi"}),
        ("POST", f"/v1/conversations/{theirs}/resolve", None),
    ]:
        answer = gateway.request(method, url, token=owner_a, json_body=json_body)
        assert answer.status == 404, (url, answer.text)
        assert answer.error["code"] == "conversation_not_found"
    listed = gateway.get("/v1/conversations", token=owner_a).json()["conversations"]
    assert [c["conversation_id"] for c in listed] == [shop_a.conversation_id]


@pytest.mark.parametrize(
    ("body", "code", "names"),
    [
        ('{"type": "text", "text": "hi"', "malformed_json", "not valid JSON"),
        ('{"type": "text", "text": ["hi"]}', "validation_error", "$.text"),
        ('{"type": "text", "text": "hi", "silent": true}', "validation_error", "silent"),
        (
            '{"type": "product_card", "product_id": "1", "title": "t"}',
            "validation_error",
            "product_card",
        ),
        ('{"text": "hi"}', "validation_error", "type"),
        ("", "empty_body", "empty"),
    ],
)
def test_bad_reply_bodies_are_400_naming_the_problem(
    gateway, staff_token, shop_a, body, code, names
):
    token = staff_token("shop-a", "laoban", "owner")
    answer = gateway.post(
        f"/v1/conversations/{shop_a.conversation_id}/replies", token=token, body=body
    )
    assert answer.status == 400, answer.text
    assert answer.error["code"] == code
    assert names in answer.error["message"], answer.error["message"]


def test_bad_assign_bodies_and_oversized_bodies(gateway, staff_token, shop_a):
    token = staff_token("shop-a", "laoban", "owner")
    url = f"/v1/conversations/{shop_a.conversation_id}/assign"
    for body, code, names in [
        ('{"assignee": 7}', "validation_error", "$.assignee"),
        ('{"assignee": "a", "note": "x"}', "validation_error", "note"),
        ("{}", "validation_error", "assignee"),
        ("nope", "malformed_json", "not valid JSON"),
        ("", "empty_body", "empty"),
    ]:
        answer = gateway.post(url, token=token, body=body)
        assert (answer.status, answer.error["code"]) == (400, code), body
        assert names in answer.error["message"]
    big = gateway.post(
        f"/v1/conversations/{shop_a.conversation_id}/replies",
        token=token,
        json_body={"type": "text", "text": "x" * 70_000},
    )
    assert (big.status, big.error["code"]) == (413, "payload_too_large")


def test_missing_garbled_or_customer_credentials_are_401(gateway, shop_a):
    customer = gateway.customer_token("shop-a")
    conv = shop_a.conversation_id
    for headers, code in [
        ({}, "missing_token"),
        ({"Authorization": "Token abc"}, "missing_token"),
        ({"Authorization": "Bearer abc.def"}, "invalid_token"),
        ({"Authorization": f"Bearer {customer}"}, "invalid_token"),
    ]:
        for method, url in [
            ("GET", "/v1/conversations"),
            ("GET", f"/v1/conversations/{conv}"),
            ("POST", f"/v1/conversations/{conv}/claim"),
        ]:
            answer = gateway.request(method, url, headers=headers)
            assert answer.status == 401, (headers, url, answer.text)
            assert answer.error["code"] == code


def test_bad_list_filters_are_400(gateway, staff_token, shop_a):
    token = staff_token("shop-a", "laoban", "owner")
    for query, code in [
        ({"status": "archived"}, "invalid_status"),
        ({"limit": "1000"}, "invalid_limit"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ]:
        answer = gateway.get("/v1/conversations", token=token, query=query)
        assert (answer.status, answer.error["code"]) == (400, code), query


def test_staff_media_upload_is_filed_under_the_staff_member(gateway, staff_token, shop_a):
    token = staff_token("shop-a", "xiaowang", "agent")
    answer = gateway.post(
        "/v1/staff/media/uploads",
        token=token,
        json_body={"content_type": "image/png", "size": 2048},
    )
    assert answer.status == 201, answer.text
    assert answer.json()["media_key"].startswith("shop-a/staff/xiaowang/")
    too_big = gateway.post(
        "/v1/staff/media/uploads",
        token=token,
        json_body={"content_type": "image/png", "size": 50 * 1024 * 1024},
    )
    assert (too_big.status, too_big.error["code"]) == (400, "invalid_size")
