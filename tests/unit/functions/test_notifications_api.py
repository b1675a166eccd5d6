"""Specification: GET /v1/notifications is the caller's own inbox (newest first, paged, with
the unread count); POST /v1/notifications/read marks some or all of it read."""

from kefu.realtime import inbox

from tests.support.factories import make_shop


def _notify(shop_id: str, username: str, n: int) -> str:
    return inbox.add(
        shop_id,
        username,
        event_id=f"staff.mentioned:{n}",
        event_type="staff.mentioned",
        kind="mentioned",
        title="有人 @ 了你",
        at_ms=1732350000000 + n,
        data={"n": n},
    )[0]


def test_my_inbox_is_mine_and_can_be_marked_read(kefu_env, gateway, staff_token):
    make_shop("shop-a")
    token = staff_token("shop-a", "agent1")
    other = staff_token("shop-a", "agent2")
    ids = [_notify("shop-a", "agent1", n) for n in range(3)]
    page = gateway.get("/v1/notifications?limit=2", token=token)
    assert page.status == 200, page.text
    body = page.json()
    assert [n["id"] for n in body["notifications"]] == [ids[2], ids[1]]
    assert body["unread_count"] == 3 and body["next_cursor"]
    assert gateway.get("/v1/notifications", token=other).json()["notifications"] == []

    marked = gateway.post("/v1/notifications/read", token=token, json_body={"ids": [ids[0]]})
    assert marked.status == 200 and marked.json() == {"marked": 1, "all": False, "unread_count": 2}
    unread = gateway.get("/v1/notifications?unread=true", token=token).json()
    assert {n["id"] for n in unread["notifications"]} == {ids[1], ids[2]}
    done = gateway.post("/v1/notifications/read", token=token, json_body={"all": True})
    assert done.json()["unread_count"] == 0


def test_bad_requests_are_clear_4xx(kefu_env, gateway, staff_token):
    make_shop("shop-a")
    token = staff_token("shop-a", "agent1")
    nothing = gateway.post("/v1/notifications/read", token=token, json_body={})
    assert (nothing.status, nothing.error["code"]) == (400, "nothing_to_mark")
    bad_id = gateway.post("/v1/notifications/read", token=token, json_body={"ids": ["x"]})
    assert bad_id.status == 400
    assert gateway.get("/v1/notifications").status == 401
