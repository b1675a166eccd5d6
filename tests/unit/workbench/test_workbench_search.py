"""Specification: history search by customer (date range on opened_at), text within that
customer's conversations (bounded), and a date range over the shop's activity; never a Scan."""

import pytest
from kefu.conversations import service
from kefu.errors import BadRequest
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.workbench import search as history
from kefu.workbench.notes import NoteRequest, add_note

DAY = 86_400_000
T0 = 1_700_000_000_000  # 2023-11-14


def _close(conv_id, customer_id):
    Conversation("shop-a", conv_id).update(
        actions=[Conversation.status.set("closed"), Conversation.shop_status.set("shop-a#closed")]
    )
    Customer("shop-a", Customer.key(customer_id)).update(
        actions=[Customer.open_conversation_id.remove()]
    )


@pytest.fixture
def history_of_xm(shop, conversation):
    a = conversation("xm", "退货怎么操作", at=T0)
    service.claim(shop["agent1"], a.conversation_id)
    _close(a.conversation_id, a.customer_id)
    b = conversation("xm", "发票开一下", at=T0 + 2 * DAY)
    service.claim(shop["agent2"], b.conversation_id)
    _close(b.conversation_id, b.customer_id)
    c = conversation("xm", "退货进度？", at=T0 + 4 * DAY)
    return {
        "customer_id": a.customer_id,
        "a": a.conversation_id,
        "b": b.conversation_id,
        "c": c.conversation_id,
    }


def _search(actor, **kw):
    args = {
        "customer_id": None,
        "q": None,
        "from_ms": None,
        "to_ms": None,
        "limit": 20,
        "cursor": None,
        **kw,
    }
    return history.search(actor, **args)


def test_a_customers_history_newest_first_within_dates(shop, history_of_xm):
    h = history_of_xm
    found = _search(shop["sup"], customer_id=h["customer_id"])
    assert [c["conversation_id"] for c in found["conversations"]] == [h["c"], h["b"], h["a"]]
    ranged = _search(
        shop["sup"], customer_id=h["customer_id"], from_ms=T0 + DAY, to_ms=T0 + 3 * DAY
    )
    assert [c["conversation_id"] for c in ranged["conversations"]] == [h["b"]]


def test_agents_see_other_agents_history_without_content(shop, history_of_xm):
    found = _search(shop["agent1"], customer_id=history_of_xm["customer_id"])
    by_id = {c["conversation_id"]: c for c in found["conversations"]}
    assert by_id[history_of_xm["b"]].get("redacted") is True
    assert "redacted" not in by_id[history_of_xm["a"]]


def test_text_search_within_a_customers_conversations(shop, history_of_xm):
    h = history_of_xm
    add_note(shop["sup"], h["b"], NoteRequest(text="退货已登记"))
    found = _search(shop["sup"], customer_id=h["customer_id"], q="退货")
    hits = {r["conversation"]["conversation_id"]: r for r in found["results"]}
    assert set(hits) == {h["a"], h["b"], h["c"]}
    assert [m["content"]["text"] for m in hits[h["c"]]["messages"]] == ["退货进度？"]
    assert found["searched_conversations"] == 3 and found["truncated"] is False
    # An agent does not search inside another agent's conversation.
    mine = _search(shop["agent1"], customer_id=h["customer_id"], q="退货")
    assert {r["conversation"]["conversation_id"] for r in mine["results"]} == {h["a"], h["c"]}


def test_text_search_without_a_customer_searches_the_shops_recent_conversations(
    shop, history_of_xm, conversation, monkeypatch
):
    h = history_of_xm
    other = conversation("someone", "我要退货", at=T0 + 10 * DAY)
    found = _search(shop["sup"], q="退货")
    hits = {r["conversation"]["conversation_id"] for r in found["results"]}
    assert {h["a"], h["c"], other.conversation_id} <= hits
    assert found["truncated"] is False
    # Bounded like a customer's search: the most recently active conversations only.
    monkeypatch.setattr(history, "SEARCH_CONVERSATIONS", 1)
    assert _search(shop["sup"], q="退货")["searched_conversations"] == 1
    # An agent searches only what they see.
    mine = _search(shop["agent1"], q="退货")
    assert h["b"] not in {r["conversation"]["conversation_id"] for r in mine["results"]}


def test_text_search_is_bounded(shop, history_of_xm, monkeypatch):
    monkeypatch.setattr(history, "SEARCH_CONVERSATIONS", 2)
    found = _search(shop["sup"], customer_id=history_of_xm["customer_id"], q="退货")
    assert found["searched_conversations"] == 2 and found["truncated"] is True


def test_a_date_range_without_a_customer_uses_the_shops_activity(shop, history_of_xm, conversation):
    conversation("someone", "hi", at=T0 + 10 * DAY)
    found = _search(shop["sup"], from_ms=T0 + 3 * DAY, to_ms=T0 + 5 * DAY)
    assert [c["conversation_id"] for c in found["conversations"]] == [history_of_xm["c"]]
    # Claims moved a's and b's activity to now: an open-ended range finds them.
    agent_view = _search(shop["agent1"], from_ms=T0 - DAY)
    ids = {c["conversation_id"] for c in agent_view["conversations"]}
    assert history_of_xm["b"] not in ids and history_of_xm["a"] in ids


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({}, "search_too_broad"),
        ({"customer_id": "cu_1", "from_ms": 5, "to_ms": 1}, "invalid_time"),
        ({"customer_id": "bad id!"}, "invalid_customer"),
    ],
)
def test_unbounded_or_malformed_searches_are_refused(shop, kw, code):
    with pytest.raises(BadRequest) as err:
        _search(shop["sup"], **kw)
    assert err.value.code == code


def test_times_are_milliseconds_or_dates():
    assert history.parse_time("1700000000000", "from") == 1_700_000_000_000
    assert history.parse_time("2023-11-14", "from") == 1_699_920_000_000
    assert history.parse_time("2023-11-14", "to", end=True) == 1_699_920_000_000 + DAY - 1
    with pytest.raises(BadRequest):
        history.parse_time("yesterday", "from")
