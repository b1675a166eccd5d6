"""WeChat's customer-service push over the real gateway: signed and AES-encrypted exactly as
WeChat sends it (infra.local.push), acknowledged with "success", and stored once however often
WeChat retries it."""

from __future__ import annotations

import time

import pytest

from infra.local.push import send_push, text_message
from tests.integration.kefu_http import Api, StandIn, unique, wait_for

pytestmark = pytest.mark.integration


def _conversation_of(api: Api, staff_token: str, customer_id: str) -> dict:
    def find() -> dict | None:
        resp = api.get("/v1/conversations?status=queued&limit=100", staff_token)
        assert resp.status_code == 200, resp.text
        found = [c for c in resp.json()["conversations"] if c["customer_id"] == customer_id]
        return found[0] if found else None

    return wait_for(find, timeout=5, what=f"a queued conversation of {customer_id}")


def _texts(api: Api, staff_token: str, conversation_id: str) -> list[str]:
    return [
        m["content"].get("text")
        for m in api.conversation_messages(staff_token, conversation_id)
        if m["direction"] == "in"
    ]


def test_secure_push_retried_three_times_is_stored_once(api: Api, owner: str):
    code = unique("push")
    customer = api.customer_login("demo", code)  # the same person as the push's openid
    openid = StandIn.openid("demo", code)
    message = text_message(
        "demo", openid, "在吗？我想改一下收货地址", msg_id=time.time_ns() // 1000
    )

    # WeChat retries a push it got no answer to within 5 s: same MsgId, each time re-encrypted.
    answers = [send_push(api.base_url, "demo", message, secure=True) for _ in range(3)]

    assert answers == [(200, "success")] * 3
    conversation = _conversation_of(api, owner, customer["customer_id"])
    assert conversation["channel"] == "wechat_miniprogram"
    assert conversation["message_count"] == 1
    assert _texts(api, owner, conversation["conversation_id"]) == ["在吗？我想改一下收货地址"]


def test_xml_push_is_stored(api: Api, owner: str):
    code = unique("push-xml")
    customer = api.customer_login("demo", code)
    openid = StandIn.openid("demo", code)

    status, body = send_push(
        api.base_url, "demo", text_message("demo", openid, "发票怎么开？ <b>&amp;</b>"), fmt="xml"
    )

    assert (status, body) == (200, "success")
    conversation = _conversation_of(api, owner, customer["customer_id"])
    assert _texts(api, owner, conversation["conversation_id"]) == ["发票怎么开？ <b>&amp;</b>"]
    # The customer reads the same message from the in-app API.
    mine = api.get("/v1/messages", customer["token"]).json()["messages"]
    assert [m["content"]["text"] for m in mine] == ["发票怎么开？ <b>&amp;</b>"]


def test_push_with_a_wrong_signature_is_refused_and_not_stored(api: Api, owner: str):
    code = unique("push-forged")
    customer = api.customer_login("demo", code)
    message = text_message("demo", StandIn.openid("demo", code), "forged")

    status, _ = send_push(api.base_url, "demo", message, secure=True, token="not-the-push-token")

    assert status == 401
    resp = api.get("/v1/messages", customer["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["messages"] == []


def test_a_plain_push_to_the_demo_shop_is_refused_because_it_has_an_aes_key(api: Api):
    code = unique("push-plain")
    customer = api.customer_login("demo", code)
    message = text_message("demo", StandIn.openid("demo", code), "plain text over the wire")

    status, body = send_push(api.base_url, "demo", message, mode="plain")

    assert status == 403
    assert body.startswith("encryption_required: ")
    assert api.get("/v1/messages", customer["token"]).json()["messages"] == []


def test_a_push_replayed_with_the_same_nonce_and_another_message_is_refused(api: Api, owner: str):
    code = unique("push-replay")
    customer = api.customer_login("demo", code)
    openid = StandIn.openid("demo", code)
    now, nonce = int(time.time()), str(time.time_ns() % 10**10)
    first = text_message("demo", openid, "第一条", msg_id=time.time_ns() // 1000)
    other = text_message("demo", openid, "第二条", msg_id=time.time_ns() // 1000 + 1)

    sent = send_push(api.base_url, "demo", first, timestamp=now, nonce=nonce)
    retried = send_push(api.base_url, "demo", first, timestamp=now, nonce=nonce)
    replayed = send_push(api.base_url, "demo", other, timestamp=now, nonce=nonce)

    assert sent == retried == (200, "success")  # WeChat's retry of the same push
    assert replayed[0] == 401 and replayed[1].startswith("replayed_nonce: ")
    conversation = _conversation_of(api, owner, customer["customer_id"])
    assert _texts(api, owner, conversation["conversation_id"]) == ["第一条"]
