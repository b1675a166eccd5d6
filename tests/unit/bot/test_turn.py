"""Specification: the bot's turn on a customer's message — answers from the knowledge base,
suggestions and choices, keyword rules, the customer's orders, hand-off to people (with the
reason and a transcript, routed to an online agent), off-hours messages recorded on a ticket,
and at most one reply per message whatever the redeliveries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
import pytest
from kefu import events
from kefu.bot import turn
from kefu.conversations import service
from kefu.routing import router
from kefu.storage.bot_learning import MISS_PREFIX, MissItem
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.knowledge import KbEntry, entry_sk
from kefu.storage.workbench import AgentState

from tests.support.bot import (
    ask,
    bot_messages,
    bot_texts,
    enable_bot,
    message_event,
    place_order,
    publish_kb,
    reset_bot_caches,
)
from tests.support.factories import customer_says, make_shop, make_staff
from tests.support.routing import online

SHOP = "shop-a"
KB = [
    (
        "怎么退货",
        ["如何退货", "我想退货怎么操作"],
        "收到商品7天内可在订单页申请退货，运费由我们承担～",
    ),
    (
        "发票怎么开",
        ["能开发票吗", "开具增值税发票"],
        "下单时填写发票抬头即可，电子发票会发到您的邮箱。",
    ),
    ("会员有什么权益", ["会员积分怎么用"], "会员可享95折和生日礼，积分可抵现。"),
    ("下单后多久发货", ["几天能发货", "发货要几天"], "付款后48小时内发货。"),
]


@pytest.fixture
def shop(kefu_env):
    reset_bot_caches()
    make_shop(SHOP)
    sup = make_staff(SHOP, "sup", "supervisor")
    ids = publish_kb(sup, KB)
    enable_bot(sup)
    yield {"sup": sup, "kb": ids, "env": kefu_env}
    reset_bot_caches()


def _conv(cid: str) -> Conversation:
    return Conversation.get(SHOP, cid, consistent_read=True)


def _entry(entry_id: str) -> KbEntry:
    return KbEntry.get(SHOP, entry_sk(entry_id), consistent_read=True)


def _misses() -> list[MissItem]:
    return list(MissItem.query(SHOP, MissItem.sk.startswith(MISS_PREFIX)))


def _settings(shop, **fields) -> None:
    enable_bot(shop["sup"], **fields)


# ------------------------------------------------------------------------------ answers


def test_a_question_the_knowledge_base_knows_is_answered_and_counted(shop, kefu_env):
    r, outcome = ask(SHOP, "o1", "我想退货，怎么操作？")
    assert outcome["outcome"] == "answer"
    assert bot_texts(SHOP, r.conversation_id) == [KB[0][2]]
    conv = _conv(r.conversation_id)
    assert conv.status == "bot" and conv.message_count == 2
    assert conv.bot_state["last_answer"]["entry_id"] == shop["kb"]["怎么退货"]
    assert _entry(shop["kb"]["怎么退货"]).hits == 1
    replies = kefu_env.events(events.REPLY_CREATED)
    assert len(replies) == 1 and replies[0]["data"]["sender"] == {"type": "bot", "id": "bot"}
    assert replies[0]["data"]["reply_to"] == "wechat_openid:o1"
    replied = kefu_env.events(events.BOT_REPLIED)[0]["data"]
    assert replied["outcome"] == "answer" and replied["entry_id"] == shop["kb"]["怎么退货"]
    assert 0 < replied["score"] <= 1


def test_a_greeting_comes_before_the_first_answer(shop):
    _settings(shop, greeting="您好，我是小K～")
    r, _ = ask(SHOP, "o1", "怎么退货")
    assert bot_texts(SHOP, r.conversation_id) == ["您好，我是小K～", KB[0][2]]
    r2, _ = ask(SHOP, "o1", "发票怎么开")
    assert bot_texts(SHOP, r2.conversation_id)[-1] == KB[1][2]
    assert bot_texts(SHOP, r.conversation_id).count("您好，我是小K～") == 1


def test_a_suggestion_then_the_choice_2_answers_the_second_entry(shop, kefu_env):
    # Thresholds that make every match a suggestion: the customer chooses.
    _settings(shop, answer_threshold=0.99, suggest_threshold=0.01)
    r, outcome = ask(SHOP, "o1", "我想退货，也想开发票")
    assert outcome["outcome"] == "suggest"
    prompt = bot_texts(SHOP, r.conversation_id)[0]
    assert prompt.startswith("您是不是想问")
    state = _conv(r.conversation_id).bot_state
    choices = state["choices"]["items"]
    assert len(choices) >= 2 and f"2. {choices[1]['label']}" in prompt
    assert state["intent"] == choices[0]["label"]  # what an agent would see on a handoff
    _, outcome = ask(SHOP, "o1", "2")
    assert outcome["outcome"] == "answer"
    second = next(q for q, _, _ in KB if q == choices[1]["label"])
    assert bot_texts(SHOP, r.conversation_id)[-1] == dict((q, a) for q, _, a in KB)[second]
    assert _entry(shop["kb"][second]).hits == 1
    assert [m.reason for m in _misses()] == ["unanswered"]  # the suggestion was logged


def test_suggestions_carry_tappable_choices_for_app_clients(shop):
    _settings(shop, answer_threshold=0.99, suggest_threshold=0.01)
    received = customer_says(SHOP, "o1", "我想退货，也想开发票", bot=True)
    Conversation(SHOP, received.conversation_id).update(actions=[Conversation.channel.set("app")])
    turn.handle(message_event(received, "我想退货，也想开发票", channel="app"))
    content = bot_messages(SHOP, received.conversation_id)[0].content.as_dict()
    assert [c["index"] for c in content["choices"]] == list(range(1, len(content["choices"]) + 1))
    assert all(c["text"] in {q for q, _, _ in KB} for c in content["choices"])


def test_a_rejected_answer_counts_against_the_entry_logs_a_miss_and_hands_off(shop, kefu_env):
    r, _ = ask(SHOP, "o1", "怎么退货")
    _, outcome = ask(SHOP, "o1", "没用")
    assert outcome["handoff"] == "rejected"
    entry = _entry(shop["kb"]["怎么退货"])
    assert (entry.unhelpful, entry.helpful or 0) == (1, 0)
    (miss,) = _misses()
    assert (miss.reason, miss.question, miss.best_entry_id) == (
        "rejected",
        "怎么退货",
        shop["kb"]["怎么退货"],
    )
    conv = _conv(r.conversation_id)
    assert conv.status == "queued" and conv.handoff["reason"] == "rejected"


def test_thanks_after_an_answer_counts_as_helpful(shop):
    r, _ = ask(SHOP, "o1", "发票怎么开")
    _, outcome = ask(SHOP, "o1", "谢谢！")
    assert outcome["outcome"] == "thanks"
    assert _entry(shop["kb"]["发票怎么开"]).helpful == 1
    assert _conv(r.conversation_id).status == "bot"


# ------------------------------------------------------------------------------ hand-off


def test_asking_for_a_person_hands_off_with_transcript_and_intent_and_routing_assigns(
    shop, kefu_env
):
    agent = online(SHOP, "agent1")
    r, _ = ask(SHOP, "o1", "怎么退货")
    _, outcome = ask(SHOP, "o1", "转人工")
    assert outcome["handoff"] == "requested"
    conv = _conv(r.conversation_id)
    assert conv.status == "queued" and conv.queued_at and conv.wait_queue == f"{SHOP}#default"
    handoff = conv.handoff
    assert handoff["reason"] == "requested"
    assert handoff["intent"] == "怎么退货"  # the entry it last answered from
    assert [(t["sender"], t["text"]) for t in handoff["transcript"]] == [
        ("customer", "怎么退货"),
        ("bot", KB[0][2]),
        ("customer", "转人工"),
    ]
    assert bot_texts(SHOP, r.conversation_id)[-1] == "好的，正在为您转接人工客服，请稍候～"
    (requested,) = kefu_env.events(events.HANDOFF_REQUESTED)
    assert requested["data"]["transcript"] == handoff["transcript"]
    assert requested["data"]["reason"] == "requested"
    routed = router.handle(requested)
    assert routed["assignee"] == agent.username
    conv = _conv(r.conversation_id)
    assert (conv.status, conv.assignee) == ("assigned", "agent1")
    assert AgentState.get(SHOP, AgentState.key("agent1")).active == 1
    # The agent sees why, in the workbench.
    from kefu.workbench.context import conversation_context

    context = conversation_context(SHOP, "agent1", r.conversation_id)
    assert context["handoff"]["reason"] == "requested"
    assert context["conversation"]["handoff"]["transcript"][0]["text"] == "怎么退货"


def test_a_handoff_button_sends_the_handoff_action(shop):
    received = customer_says(SHOP, "o1", "转接", bot=True)
    outcome = turn.handle(
        message_event(received, content={"text": "联系客服", "action": "handoff"})
    )
    assert outcome["handoff"] == "requested"


def test_anger_words_go_straight_to_a_person(shop):
    r, outcome = ask(SHOP, "o1", "你们就是骗子，我要投诉！")
    assert outcome["handoff"] == "anger"
    assert _conv(r.conversation_id).handoff["reason"] == "anger"


def test_a_vip_customer_goes_straight_to_a_person(shop):
    _settings(shop, vip_tiers=["high_value"])
    received = customer_says(SHOP, "o1", "在吗", bot=True)
    Customer(SHOP, Customer.key(received.customer_id)).update(
        actions=[Customer.tier.set("high_value")]
    )
    outcome = turn.handle(message_event(received, "怎么退货"))
    assert outcome["handoff"] == "vip"
    assert bot_texts(SHOP, received.conversation_id) == ["好的，正在为您转接人工客服，请稍候～"]


def test_with_apologies_the_bot_hands_off_after_max_misses_in_a_row(shop):
    _settings(shop, low_confidence="apologise", max_misses=2)
    r, first = ask(SHOP, "o1", "HEM 8712 型号有货吗")
    assert first["outcome"] == "fallback"
    assert _conv(r.conversation_id).status == "bot"
    _, second = ask(SHOP, "o1", "量子纠缠的原理是什么")
    assert second["handoff"] == "misses"
    assert [m.reason for m in _misses()] == ["unanswered", "unanswered"]


def test_an_answer_resets_the_consecutive_misses(shop):
    _settings(shop, low_confidence="apologise", max_misses=2)
    r, _ = ask(SHOP, "o1", "HEM 8712 型号有货吗")
    ask(SHOP, "o1", "怎么退货")
    _, third = ask(SHOP, "o1", "量子纠缠的原理是什么")
    assert third["outcome"] == "fallback"
    assert _conv(r.conversation_id).status == "bot"


def test_low_confidence_hands_off_by_default_and_logs_the_question(shop):
    r, outcome = ask(SHOP, "o1", "量子纠缠的原理是什么")
    assert outcome["handoff"] == "low_confidence"
    (miss,) = _misses()
    assert (miss.reason, miss.question, miss.conversation_id) == (
        "unanswered",
        "量子纠缠的原理是什么",
        r.conversation_id,
    )


def test_once_an_agent_has_the_conversation_the_bot_is_silent(shop):
    agent = make_staff(SHOP, "agent1")
    r, _ = ask(SHOP, "o1", "转人工")
    service.claim(agent, r.conversation_id)
    before = len(bot_messages(SHOP, r.conversation_id))
    _, outcome = ask(SHOP, "o1", "怎么退货")
    assert outcome == {"skipped": "assigned"}
    assert len(bot_messages(SHOP, r.conversation_id)) == before


def test_an_agent_may_claim_a_conversation_the_bot_has(shop):
    agent = make_staff(SHOP, "agent1")
    r, _ = ask(SHOP, "o1", "怎么退货")
    claimed = service.claim(agent, r.conversation_id)
    assert (claimed["status"], claimed["assignee"]) == ("assigned", "agent1")
    _, outcome = ask(SHOP, "o1", "发票怎么开")
    assert outcome == {"skipped": "assigned"}


def test_an_agent_claiming_during_the_turn_means_nothing_is_sent(shop, monkeypatch, kefu_env):
    agent = make_staff(SHOP, "agent1")
    received = customer_says(SHOP, "o1", "怎么退货", bot=True)
    real_read = turn.read

    def read_then_claim(*args):
        snap = real_read(*args)
        if snap.conv is not None and snap.conv.status == "bot":
            service.claim(agent, received.conversation_id)
        return snap

    monkeypatch.setattr(turn, "read", read_then_claim)
    outcome = turn.handle(message_event(received, "怎么退货"))
    assert outcome["skipped"] == "taken over meanwhile"
    assert bot_messages(SHOP, received.conversation_id) == []
    assert kefu_env.events(events.REPLY_CREATED) == []
    assert not _entry(shop["kb"]["怎么退货"]).hits


def test_turning_the_bot_off_hands_its_conversations_to_people(shop, kefu_env):
    r, _ = ask(SHOP, "o1", "怎么退货")
    result = enable_bot(shop["sup"], enabled=False)
    assert result["handed_off"] == 1
    conv = _conv(r.conversation_id)
    assert conv.status == "queued" and conv.handoff["reason"] == "disabled"
    assert kefu_env.events(events.HANDOFF_REQUESTED)[0]["data"]["reason"] == "disabled"


# ------------------------------------------------------------------------------ idempotency


def test_the_same_event_delivered_twice_sends_one_reply(shop, kefu_env):
    received = customer_says(SHOP, "o1", "怎么退货", bot=True)
    event = message_event(received, "怎么退货")
    first = turn.handle(event)
    again = turn.handle(event)
    assert first["outcome"] == "answer" and again == {"duplicate": True, "outcome": "answer"}
    assert len(bot_messages(SHOP, received.conversation_id)) == 1
    assert _entry(shop["kb"]["怎么退货"]).hits == 1
    # The redelivery re-announced the same reply (same event id: outbound sends it once).
    ids = {e["event_id"] for e in kefu_env.events(events.REPLY_CREATED)}
    assert len(ids) == 1


def test_a_redelivery_that_misses_the_first_turn_in_its_read_is_refused_by_the_commit(
    shop, monkeypatch, kefu_env
):
    # The redelivery read before the first turn committed: its own transaction's conditional
    # put of the turn item (the transaction's first put) fails, and it re-publishes instead.
    received = customer_says(SHOP, "o1", "怎么退货", bot=True)
    event = message_event(received, "怎么退货")
    first = turn.handle(event)
    real_read = turn.read

    def read_without_the_turn(*args):
        snap = real_read(*args)
        snap.done = None
        return snap

    monkeypatch.setattr(turn, "read", read_without_the_turn)
    again = turn.handle(event)
    assert first["outcome"] == "answer" and again["duplicate"] is True
    assert len(bot_messages(SHOP, received.conversation_id)) == 1
    assert _entry(shop["kb"]["怎么退货"]).hits == 1
    published = kefu_env.events(events.REPLY_CREATED)
    assert len(published) == 2 and len({e["event_id"] for e in published}) == 1


# ------------------------------------------------------------------------------ keyword rules


def test_a_keyword_rule_answers_with_its_variables_filled(shop):
    from kefu.bot import keyword_rules, keyword_rules_admin

    keyword_rules_admin.create_rule(
        shop["sup"],
        msgspec.convert(
            {
                "name": "发货时间",
                "keywords": ["包邮"],
                "replies": [
                    {
                        "type": "text",
                        "content": "{customer_name|亲}您好，{shop_name}全场包邮～"
                        "您最近的订单 {latest_order_no}：{latest_order_status}",
                    }
                ],
            },
            keyword_rules.NewKeywordRule,
        ),
    )
    received = customer_says(SHOP, "o1", "在吗", bot=True)
    Customer(SHOP, Customer.key(received.customer_id)).update(
        actions=[Customer.display_name.set("小明")]
    )
    place_order(SHOP, received.customer_id, "SO-9", "paid")
    outcome = turn.handle(message_event(received, "请问包邮吗"))
    assert outcome["outcome"] == "rule"
    assert bot_texts(SHOP, received.conversation_id) == [
        "小明您好，Shop shop-a全场包邮～您最近的订单 SO-9：已付款，待发货"
    ]


# ------------------------------------------------------------------------------ orders


def test_where_is_my_parcel_is_answered_from_the_customers_own_order(shop):
    received = customer_says(SHOP, "o1", "在吗", bot=True)
    place_order(
        SHOP,
        received.customer_id,
        "SO-1",
        "shipped",
        carrier="顺丰速运",
        tracking_number="SF1234567890",
        logistics=[("已揽收", "深圳"), ("运输中，已到达杭州转运中心", "杭州")],
    )
    outcome = turn.handle(message_event(received, "我的快递到哪了"))
    assert outcome["outcome"] == "order"
    (text,) = bot_texts(SHOP, received.conversation_id)
    assert "SO-1" in text and "顺丰速运" in text and "SF1234567890" in text
    assert "运输中，已到达杭州转运中心" in text and "杭州" in text


def test_several_open_orders_are_offered_as_a_choice_then_the_chosen_one_answered(shop):
    received = customer_says(SHOP, "o1", "在吗", bot=True)
    t = 1_750_000_000_000
    place_order(SHOP, received.customer_id, "SO-1", "paid", placed_at=t, title="T恤")
    place_order(
        SHOP,
        received.customer_id,
        "SO-2",
        "shipped",
        placed_at=t + 1000,
        title="帽子",
        carrier="中通",
        tracking_number="ZT777",
    )
    place_order(SHOP, received.customer_id, "SO-3", "delivered", placed_at=t - 1000)
    turn.handle(message_event(received, "什么时候发货"))
    (prompt,) = bot_texts(SHOP, received.conversation_id)
    assert prompt.startswith("您有2个进行中的订单，请回复序号")
    assert (
        "1. 订单 SO-2（帽子，已发货）" in prompt and "2. 订单 SO-1（T恤，已付款，待发货）" in prompt
    )
    _, outcome = ask(SHOP, "o1", "2")
    assert outcome["outcome"] == "order"
    answer = bot_texts(SHOP, received.conversation_id)[-1]
    assert "SO-1" in answer and "等待发货" in answer


def test_a_shipping_policy_question_without_orders_is_the_knowledge_bases_to_answer(shop):
    r, outcome = ask(SHOP, "o1", "下单几天发货")
    assert outcome["outcome"] == "answer"
    assert bot_texts(SHOP, r.conversation_id) == ["付款后48小时内发货。"]


def test_a_customer_without_orders_is_told_so_and_offered_a_person(shop):
    r, outcome = ask(SHOP, "o1", "退款到账了吗")
    assert outcome["outcome"] == "no_orders"
    assert "没有查到您的订单" in bot_texts(SHOP, r.conversation_id)[0]
    assert "转人工" in bot_texts(SHOP, r.conversation_id)[0]


def test_a_refund_in_progress_is_explained(shop):
    received = customer_says(SHOP, "o1", "在吗", bot=True)
    place_order(SHOP, received.customer_id, "SO-5", "refund_requested", refund_amount="59.00")
    turn.handle(message_event(received, "退款到账了吗"))
    (text,) = bot_texts(SHOP, received.conversation_id)
    assert "SO-5" in text and "59.00" in text and "处理中" in text


# ------------------------------------------------------------------------------ off hours


SATURDAY_NIGHT = int(
    datetime(2025, 6, 14, 22, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1000
)


def test_off_hours_the_customer_is_offered_to_leave_a_message_which_becomes_a_ticket(
    shop, monkeypatch, kefu_env
):
    from kefu.tickets import settings as sla_settings
    from kefu.tickets import sla
    from kefu.tickets.service import get_ticket

    sla_settings.put_calendar(
        shop["sup"],
        msgspec.convert(
            {"weekly": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
            sla.CalendarBody,
        ),
    )
    clock = [SATURDAY_NIGHT]
    monkeypatch.setattr(turn, "now_ms", lambda: clock[0])

    def says(text):
        clock[0] += 60_000
        received = customer_says(SHOP, "o1", text, at=clock[0], bot=False)
        return received, turn.handle(message_event(received, text))

    # A conversation people have (queued): the bot offers once, then records.
    first, outcome = says("有人吗")
    assert _conv(first.conversation_id).status == "queued"
    assert outcome["outcome"] == "off_hours_offer"
    _, outcome = says("我的收货地址写错了，要改成杭州市西湖区")
    assert outcome["outcome"] == "message_recorded"
    _, outcome = says("电话 138****0000")
    assert outcome["outcome"] == "message_recorded"
    texts = bot_texts(SHOP, first.conversation_id)
    assert texts == [
        "现在是非工作时间，客服上班后会第一时间回复您。您可以直接留言说明问题，我们会记录下来。",
        "您的留言已记录，客服上班后会尽快联系您，请留意消息～",
    ]
    ticket_id = _conv(first.conversation_id).bot_state["ticket_id"]
    ticket = get_ticket(shop["sup"], ticket_id)
    assert ticket["conversation_id"] == first.conversation_id
    assert ticket["subject"].startswith("非工作时间留言：我的收货地址写错了")
    comments = [h for h in ticket["history"] if h["kind"] == "comment"]
    assert [c["body"] for c in comments] == ["电话 138****0000"]
    assert len(kefu_env.events(events.TICKET_CREATED)) == 1


def test_during_business_hours_a_queued_conversation_gets_nothing_from_the_bot(shop):
    received = customer_says(SHOP, "o1", "有人吗", bot=False)
    assert turn.handle(message_event(received, "有人吗")) == {"skipped": "queued"}
    assert bot_messages(SHOP, received.conversation_id) == []


# ------------------------------------------------------------------------------ opening


def test_with_the_bot_on_a_new_conversation_opens_with_the_bot_and_routing_leaves_it(shop):
    online(SHOP, "agent1")
    received = customer_says(SHOP, "o1", "你好", bot=True)
    assert _conv(received.conversation_id).status == "bot"
    opened = {
        "event_id": f"{events.CONVERSATION_OPENED}:{received.conversation_id}",
        "type": events.CONVERSATION_OPENED,
        "shop_id": SHOP,
        "occurred_at": 1,
        "data": {
            "conversation_id": received.conversation_id,
            "customer_id": received.customer_id,
            "channel": "wechat_miniprogram",
            "queue": "default",
            "status": "bot",
            "type": "text",
            "content": {"text": "你好"},
        },
    }
    assert router.handle(opened) == {"skipped": "with the bot"}
    assert _conv(received.conversation_id).assignee is None


def test_with_the_bot_off_a_new_conversation_opens_queued_as_before(kefu_env):
    make_shop("shop-b")
    received = customer_says("shop-b", "o1", "你好")
    assert Conversation.get("shop-b", received.conversation_id).status == "queued"


def test_a_quiet_conversation_the_bot_still_has_is_closed_by_housekeeping(shop):
    from kefu.conversations.housekeeping import close_quiet_conversations
    from kefu.storage.customers import Customer as C

    r, _ = ask(SHOP, "o1", "怎么退货", at=1_700_000_000_000)
    Conversation(SHOP, r.conversation_id).update(
        actions=[Conversation.last_activity_at.set(1_700_000_000_000)]
    )
    assert close_quiet_conversations(now=1_700_000_000_000 + 25 * 3600 * 1000) == 1
    assert _conv(r.conversation_id).status == "closed"
    assert C.get(SHOP, C.key(r.customer_id)).open_conversation_id is None
