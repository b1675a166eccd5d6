"""Tiers end to end on the local stack: the shop's back end reports orders (POST /v1/shop-events)
-> EventBridge -> TiersQueue -> the tiers function raises the customer to 高价值 and announces
`customer.tier_changed`; routing's tier rule then sends the customer's message to the VIP queue,
and a conversation already waiting in the default queue moves there when the tier rises."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from kefu.customers import WECHAT_OPENID, Identity, find_identity
from kefu.shop_events.signature import sign
from kefu.storage.customers import Customer

from infra.local import demo_data
from tests.integration.kefu_http import Api, StandIn, unique, wait_for

pytestmark = pytest.mark.integration

PASSWORD = "Tiers-pass-0001"


def _put(api: Api, path: str, token: str, body: dict):
    return api.request("PUT", path, token, json=body)


def _orders(api: Api, code: str, count: int = 5, yuan: str = "600.00") -> None:
    """The shop reports `count` paid orders of the WeChat customer who signed in with `code`:
    five orders and 3,000 yuan score F 4 and M 4, recent ones R 5: 高价值 (high_value)."""
    now = int(time.time() * 1000)
    openid = StandIn.openid("demo", code)
    payload = {
        "events": [
            {
                "event_id": unique("evt"),
                "type": "order.paid",
                "occurred_at": now - 1000 * (count - n),
                "customer": {"wechat_openid": openid},
                "order": {"order_id": unique("SO"), "amount": yuan, "created_at": now - 60_000},
            }
            for n in range(count)
        ]
    }
    raw = json.dumps(payload, ensure_ascii=False).encode()
    resp = api.post(
        "/v1/shop-events",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Kefu-Shop": "demo",
            "X-Kefu-Signature": sign(demo_data.SHOP_EVENTS_KEY, raw),
        },
    )
    assert resp.status_code == 202, resp.text


def _tier(code: str) -> str | None:
    identity = find_identity("demo", Identity(WECHAT_OPENID, StandIn.openid("demo", code)))
    if identity is None:
        return None
    customer = Customer.get("demo", Customer.key(identity.customer_id), consistent_read=True)
    return customer.tier


@pytest.fixture
def vip_floor(api: Api, owner: str) -> Iterator[dict]:
    """A VIP agent of its own in a VIP queue, a tier rule at the head of the rules, and the
    default queue closed for the test, so nothing but the tier rule can assign."""
    username = unique("vip").lower()[:30]
    made = api.post(
        "/v1/staff", owner, json={"username": username, "role": "agent", "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    agent = api.staff_login("demo", username, password=PASSWORD)
    queue_id = f"vip-{username}"[:40]
    created = api.post(
        "/v1/queues", owner, json={"queue_id": queue_id, "name": "VIP", "members": [username]}
    )
    assert created.status_code == 201, created.text
    before = api.get("/v1/routing/rules", owner).json()
    refused = _put(
        api,
        "/v1/routing/rules",
        owner,
        {
            "version": before["version"],
            "rules": [{"rule_id": "it-vip", "queue": queue_id, "conditions": {"tiers": ["svip"]}}],
        },
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "unknown_tier")
    rules = [
        {
            "rule_id": "it-vip",
            "queue": queue_id,
            "priority": 8,
            "conditions": {"tiers": ["high_value"]},
        },
        *before["rules"],
    ]
    put = _put(api, "/v1/routing/rules", owner, {"version": before["version"], "rules": rules})
    assert put.status_code == 200, put.text
    closed = api.patch("/v1/queues/default", owner, json={"open_to_all": False})
    assert closed.status_code == 200, closed.text
    online = _put(api, "/v1/agents/me/status", agent, {"status": "online", "capacity": 2})
    assert online.status_code == 200, online.text
    try:
        yield {"agent": agent, "username": username, "queue": queue_id}
    finally:
        _put(api, "/v1/agents/me/status", agent, {"status": "offline"})
        api.patch("/v1/queues/default", owner, json={"open_to_all": True})
        current = api.get("/v1/routing/rules", owner).json()
        _put(
            api,
            "/v1/routing/rules",
            owner,
            {"version": current["version"], "rules": before["rules"]},
        )


def test_order_events_raise_the_tier_and_the_next_message_lands_in_the_vip_queue(
    api: Api, owner: str, vip_floor: dict, resolve_later
):
    code = unique("tiers")
    customer = api.customer_login("demo", code)
    assert _tier(code) == "regular"

    _orders(api, code)
    wait_for(lambda: _tier(code) == "high_value", timeout=30, what="the tier raised by orders")

    sent = api.customer_says(customer["token"], "你好，我的订单什么时候发货？")
    conversation_id = sent["conversation_id"]
    resolve_later(vip_floor["agent"], conversation_id)
    conv = wait_for(
        lambda: (
            (c := api.get(f"/v1/conversations/{conversation_id}", owner).json()).get("assignee")
            and c
        ),
        timeout=30,
        what="routing to assign the VIP's conversation",
    )
    assert (conv["queue"], conv["assignee"], conv["priority"]) == (
        vip_floor["queue"],
        vip_floor["username"],
        8,
    )


def test_a_waiting_conversation_moves_to_the_vip_queue_when_the_tier_rises(
    api: Api, owner: str, vip_floor: dict, resolve_later
):
    code = unique("tiers")
    customer = api.customer_login("demo", code)
    sent = api.customer_says(customer["token"], "在吗？")
    conversation_id = sent["conversation_id"]
    resolve_later(vip_floor["agent"], conversation_id)

    def waiting_in_default() -> dict | None:
        conv = api.get(f"/v1/conversations/{conversation_id}", owner).json()
        return conv if conv.get("queued_at") and conv["queue"] == "default" else None

    waiting = wait_for(waiting_in_default, timeout=30, what="the conversation waiting")
    assert waiting["assignee"] is None

    _orders(api, code)

    def rerouted() -> dict | None:
        conv = api.get(f"/v1/conversations/{conversation_id}", owner).json()
        return conv if conv.get("assignee") else None

    conv = wait_for(rerouted, timeout=40, what="the tier change re-routing the conversation")
    assert (conv["queue"], conv["assignee"]) == (vip_floor["queue"], vip_floor["username"])
    assert conv["queued_at"] == waiting["queued_at"]  # it kept its place in time


def test_the_nightly_pass_fires_locally_and_a_finished_run_is_not_repeated(stack):
    first = stack.fire_schedule("TiersNightlyFunction")
    assert first["shops"] >= 2 and first["finished"] == first["shops"]
    again = stack.fire_schedule("TiersNightlyFunction")
    assert (again["finished"], again["read"]) == (again["shops"], 0)
