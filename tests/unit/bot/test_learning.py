"""Specification: the bot's learning loop — misses logged in the bot's own transaction, grouped
into suggestions a supervisor accepts (a new entry, or similar questions of one) or dismisses,
and reports on how the shop's entries are used."""

from __future__ import annotations

import pytest
from kefu.audit import list_audit
from kefu.bot import learning, learning_grouping, learning_reports
from kefu.bot.learning import AcceptAsEntry, AcceptAsSimilar, record_miss
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.knowledge import entries
from kefu.knowledge.published import add_feedback, add_hit
from kefu.retrieval import terms
from kefu.storage.bot_learning import MissItem, SuggestionState
from kefu.storage.tx import write_transaction

from tests.support.factories import make_shop, make_staff

DAY = 24 * 3600 * 1000
NOW = 1_750_000_000_000  # a fixed "now" for every test (2025-06-15)

# Paraphrase groups and loners, written for these tests.
INVOICE_ZH = ["怎么开发票", "发票怎么开", "能开个发票吗", "我需要开具增值税发票"]
SHIPPING_ZH = ["什么时候发货", "多久能发货", "下单后几天发货", "发货要多长时间"]
ADDRESS_ZH = ["收货地址写错了怎么改", "怎么修改收货地址", "地址填错了能改吗"]
INVOICE_EN = [
    "how do I get an invoice",
    "can you send me an invoice",
    "invoice for my order please",
]
SHIPPING_EN = ["when will my order ship", "how long until my order ships", "how soon do you ship"]
LONERS = ["你们店在哪个城市", "有优惠券吗", "怎么退款", "do you sell gift cards"]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock(NOW)
    monkeypatch.setattr(learning, "now_ms", c)
    monkeypatch.setattr(learning_reports, "now_ms", c)
    monkeypatch.setattr(entries, "now_ms", c)
    return c


@pytest.fixture
def staff(kefu_env, clock):
    make_shop("shop-a")
    make_shop("shop-b")
    return {
        "agent": make_staff("shop-a", "agent1", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
        "owner": make_staff("shop-a", "owner", "owner"),
        "other": make_staff("shop-b", "sup", "supervisor"),
    }


def log(shop_id, question, *, at=None, customer="cu-1", reason="unanswered", best=None, score=None):
    """What the bot turn does: the miss inside its own transaction."""
    with write_transaction() as tx:
        return record_miss(
            tx,
            shop_id,
            conversation_id="cv-1",
            customer_id=customer,
            question=question,
            reason=reason,
            best_entry_id=best,
            best_score=score,
            best_scope=shop_id if best else None,
            at_ms=at if at is not None else NOW - DAY,
        )


def log_all(shop_id, questions, **kwargs):
    for i, question in enumerate(questions):
        log(shop_id, question, customer=f"cu-{i}", **kwargs)


def by_representative(listing):
    return {s["representative"]: s for s in listing["suggestions"]}


def group_of(listing, question):
    found = [s for s in listing["suggestions"] if question in s["samples"]]
    assert len(found) == 1, (question, listing["suggestions"])
    return found[0]


def text(content):
    return [{"type": "text", "content": content}]


def new_entry(actor, question, similar=()):
    return entries.create_entry(
        actor,
        None,
        entries.NewKbEntry(
            question=question, similar_questions=list(similar), answer=text(f"答：{question}")
        ),
    )


def misses_of(shop_id):
    return list(MissItem.query(shop_id, MissItem.sk.startswith("miss#")))


# --- recording ------------------------------------------------------------------------------


def test_a_miss_is_one_item_in_the_bot_turns_transaction_and_expires_after_90_days(staff):
    item = log("shop-a", "  发票怎么开？ ", best="kb_1", score=0.41234567, at=NOW)

    [stored] = misses_of("shop-a")
    assert stored.sk == f"miss#{NOW:013d}#{item.miss_id}"
    assert stored.question == "发票怎么开？"
    assert (stored.reason, stored.conversation_id, stored.customer_id) == (
        "unanswered",
        "cv-1",
        "cu-1",
    )
    assert (stored.best_entry_id, stored.best_scope, stored.best_score) == (
        "kb_1",
        "shop-a",
        0.4123,
    )
    assert stored.expires_at == NOW // 1000 + 90 * 24 * 3600


def test_a_miss_is_written_only_if_the_bot_turns_transaction_is(staff):
    with pytest.raises(RuntimeError), write_transaction() as tx:
        record_miss(
            tx,
            "shop-a",
            conversation_id="cv-1",
            customer_id="cu-1",
            question="在吗",
            reason="unanswered",
            best_entry_id=None,
            best_score=None,
            at_ms=NOW,
        )
        raise RuntimeError("the turn failed before its transaction was sent")
    assert misses_of("shop-a") == []


def test_a_miss_has_a_known_reason(staff):
    with pytest.raises(ValueError), write_transaction() as tx:
        record_miss(
            tx,
            "shop-a",
            conversation_id=None,
            customer_id=None,
            question="x",
            reason="ignored",
            best_entry_id=None,
            best_score=None,
            at_ms=NOW,
        )


# --- grouping -------------------------------------------------------------------------------


def test_paraphrases_group_together_and_unrelated_questions_stay_apart(staff):
    groups = [INVOICE_ZH, SHIPPING_ZH, ADDRESS_ZH, INVOICE_EN, SHIPPING_EN]
    for questions in groups:
        log_all("shop-a", questions)
    log_all("shop-a", LONERS)

    listing = learning.suggestions(staff["sup"])

    found = sorted(sorted(s["samples"]) for s in listing["suggestions"])
    assert found == sorted(sorted(g) for g in groups + [[q] for q in LONERS])
    assert listing["total"] == len(groups) + len(LONERS)
    assert listing["misses_read"] == sum(map(len, groups)) + len(LONERS)
    assert listing["capped"] is False and listing["note"] is None


def test_a_suggestion_counts_misses_customers_reasons_and_when(staff):
    log("shop-a", "发票怎么开", customer="cu-1", at=NOW - 3 * DAY)
    log("shop-a", "发票怎么开", customer="cu-2", at=NOW - 2 * DAY)
    log("shop-a", "发票怎么开？", customer="cu-2", at=NOW - DAY, reason="rejected")
    log("shop-a", "怎么开发票", customer="cu-3", at=NOW - 5 * DAY)
    log("shop-a", "能开个发票吗", at=NOW - 4 * DAY)  # cu-1 again

    [s] = learning.suggestions(staff["sup"])["suggestions"]

    # The most frequent wording represents the group; punctuation does not make a new question.
    assert s["representative"] == "发票怎么开"
    assert s["samples"][0] == "发票怎么开"
    assert sorted(s["samples"]) == sorted(["发票怎么开", "怎么开发票", "能开个发票吗"])
    assert (s["count"], s["customers"], s["distinct_questions"]) == (5, 3, 3)
    assert s["reasons"] == {"unanswered": 4, "rejected": 1}
    assert (s["first_seen"], s["last_seen"]) == (NOW - 5 * DAY, NOW - DAY)
    assert s["key"] == learning_grouping.question_key(terms("发票怎么开"))
    assert s["best_entry"] is None and s["suggested"] == {"as": "entry"}


def test_at_most_five_sample_questions(staff):
    questions = [
        "怎么开发票",
        "发票怎么开",
        "能开个发票吗",
        "我需要开具增值税发票",
        "发票在哪里申请",
        "开发票要提供什么信息",
        "电子发票怎么下载",
    ]
    log_all("shop-a", questions)
    [s] = learning.suggestions(staff["sup"])["suggestions"]
    assert s["distinct_questions"] == 7 and len(s["samples"]) == 5


def test_suggests_a_similar_question_when_most_misses_were_near_one_entry(staff):
    entry = new_entry(staff["sup"], "如何申请发票")
    eid = entry["entry_id"]
    log("shop-a", "发票怎么开", best=eid, score=0.42)
    log("shop-a", "怎么开发票", best=eid, score=0.38)
    log("shop-a", "能开个发票吗", best="kb_other", score=0.2)
    log_all("shop-a", SHIPPING_ZH, best=eid, score=0.1, reason="rejected")

    listing = learning.suggestions(staff["sup"])
    invoice = group_of(listing, "发票怎么开")
    assert invoice["suggested"] == {"as": "similar", "entry_id": eid}
    assert invoice["best_entry"] == {
        "entry_id": eid,
        "scope": "shop",
        "misses": 2,
        "unanswered": 2,
        "average_score": 0.4,
    }
    # Answers the customers rejected do not make the questions paraphrases of that entry.
    shipping = group_of(listing, "什么时候发货")
    assert shipping["best_entry"]["misses"] == 4 and shipping["best_entry"]["unanswered"] == 0
    assert shipping["suggested"] == {"as": "entry"}


def test_groups_and_keys_are_stable(staff):
    a = INVOICE_ZH + SHIPPING_ZH + LONERS
    log_all("shop-a", a)
    first = learning.suggestions(staff["sup"])["suggestions"]
    misses = misses_of("shop-a")

    again = learning_grouping.group_questions(list(reversed(misses)))
    assert [(g.key, sorted(g.texts())) for g in again] == [
        (s["key"], sorted(s["samples"])) for s in first
    ]
    # More misses of other questions do not rename the existing groups.
    log_all("shop-a", ADDRESS_ZH + INVOICE_EN)
    later = {s["key"] for s in learning.suggestions(staff["sup"])["suggestions"]}
    assert {s["key"] for s in first} <= later


def test_sorted_by_count_and_limited(staff):
    log_all("shop-a", SHIPPING_ZH + SHIPPING_ZH)
    log_all("shop-a", INVOICE_ZH)
    log_all("shop-a", LONERS)
    listing = learning.suggestions(staff["sup"], limit=2)
    assert [s["count"] for s in listing["suggestions"]] == [8, 4]
    assert listing["total"] == 2 + len(LONERS)


def test_only_the_window_is_read_and_at_most_5000_misses_newest_first(staff, monkeypatch):
    log("shop-a", "发票怎么开", at=NOW - 40 * DAY)  # outside a 30-day window
    for i in range(4):
        log("shop-a", "什么时候发货", at=NOW - DAY - i)
    log("shop-a", "有优惠券吗", at=NOW - 2 * DAY)  # the oldest in the window

    listing = learning.suggestions(staff["sup"], days=30)
    assert listing["misses_read"] == 5 and listing["capped"] is False
    assert listing["since"] == NOW - 30 * DAY
    assert learning.suggestions(staff["sup"], days=45)["misses_read"] == 6

    monkeypatch.setattr(learning, "MAX_MISSES_READ", 3)
    capped = learning.suggestions(staff["sup"], days=30)
    assert capped["misses_read"] == 3 and capped["capped"] is True
    assert "newest 3 misses" in capped["note"]
    assert [s["representative"] for s in capped["suggestions"]] == ["什么时候发货"]


def test_days_are_between_1_and_90(staff):
    for days in (0, 91):
        with pytest.raises(BadRequest) as err:
            learning.suggestions(staff["sup"], days=days)
        assert err.value.code == "invalid_days"
    assert learning.parse_days(None) == 30
    with pytest.raises(BadRequest):
        learning.parse_days("a week")


def test_questions_with_nothing_to_match_are_left_out(staff):
    log_all("shop-a", ["？？", "👍", "发票怎么开"])
    listing = learning.suggestions(staff["sup"])
    assert [s["representative"] for s in listing["suggestions"]] == ["发票怎么开"]
    assert listing["misses_read"] == 3


# --- accepting ------------------------------------------------------------------------------


def test_accept_as_a_new_entry(staff, kefu_env):
    log("shop-a", "发票怎么开", customer="cu-1")
    log("shop-a", "发票怎么开", customer="cu-2")
    log_all("shop-a", ["怎么开发票", "能开个发票吗"])
    log_all("shop-a", SHIPPING_ZH)
    key = group_of(learning.suggestions(staff["sup"]), "发票怎么开")["key"]

    out = learning.accept(
        staff["sup"],
        key,
        AcceptAsEntry(answer=text("在订单页点「申请发票」即可"), category="发票"),
    )

    assert out["publish_needed"] is True and out["state"] == "accepted" and out["as"] == "entry"
    entry = entries.load_entry("shop-a", out["entry"]["entry_id"])
    assert entry.question == "发票怎么开"
    assert sorted(entry.similar_questions) == ["怎么开发票", "能开个发票吗"]
    assert entry.answer == text("在订单页点「申请发票」即可") and entry.category == "发票"
    assert out["questions_added"][0] == "发票怎么开"
    assert sorted(out["questions_added"][1:]) == ["怎么开发票", "能开个发票吗"]

    listing = learning.suggestions(staff["sup"])
    assert [s["representative"] for s in listing["suggestions"]] == ["什么时候发货"]
    state = SuggestionState.get("shop-a", f"suggestion#{key}")
    assert (state.state, state.by, state.accepted_as) == ("accepted", "sup", "entry")
    assert state.target_entry_id == entry.entry_id
    records, _ = list_audit("shop-a", target=("bot_suggestion", key))
    assert [r["action"] for r in records] == ["bot.suggestion_accepted"]
    assert records[0]["after"]["entry_id"] == entry.entry_id
    # The knowledge base recorded its own change too (and its draft now differs).
    created, _ = list_audit("shop-a", target=("kb_entry", entry.entry_id))
    assert [r["action"] for r in created] == ["knowledge.entry_created"]


def test_accept_as_a_new_entry_with_another_standard_question(staff):
    log_all("shop-a", INVOICE_ZH)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    out = learning.accept(
        staff["owner"], key, AcceptAsEntry(answer=text("可以开"), question="如何开具发票")
    )
    assert out["entry"]["question"] == "如何开具发票"
    assert sorted(out["entry"]["similar_questions"]) == sorted(INVOICE_ZH)


def test_accept_as_similar_questions_of_an_entry(staff):
    entry = new_entry(staff["sup"], "如何申请发票", similar=["能开个发票吗"])
    log_all("shop-a", INVOICE_ZH, best=entry["entry_id"], score=0.4)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]

    out = learning.accept(staff["sup"], key, AcceptAsSimilar(entry_id=entry["entry_id"]))

    assert out["as"] == "similar" and out["publish_needed"] is True
    stored = entries.load_entry("shop-a", entry["entry_id"])
    assert stored.question == "如何申请发票"
    # Appended once each: the one the entry already had is not repeated.
    assert stored.similar_questions[0] == "能开个发票吗"
    assert sorted(stored.similar_questions) == sorted(INVOICE_ZH)
    assert sorted(out["questions_added"]) == sorted(set(INVOICE_ZH) - {"能开个发票吗"})
    assert learning.suggestions(staff["sup"])["suggestions"] == []
    records, _ = list_audit("shop-a", target=("bot_suggestion", key))
    assert records[0]["after"]["as"] == "similar"
    assert records[0]["after"]["entry_id"] == entry["entry_id"]


def test_after_accepting_new_paraphrases_of_the_group_are_not_suggested_but_new_topics_are(
    staff, clock
):
    log_all("shop-a", INVOICE_ZH)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    learning.accept(staff["sup"], key, AcceptAsEntry(answer=text("可以开")))

    clock.now += DAY
    log("shop-a", "发票怎么开", at=clock.now - 1)  # the same question again
    log("shop-a", "开发票怎么弄", at=clock.now - 1)  # a close paraphrase
    log("shop-a", "收货地址写错了怎么改", at=clock.now - 1)
    listing = learning.suggestions(staff["sup"])
    assert [s["representative"] for s in listing["suggestions"]] == ["收货地址写错了怎么改"]


def test_a_decided_suggestion_cannot_be_decided_again(staff):
    log_all("shop-a", INVOICE_ZH)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    learning.accept(staff["sup"], key, AcceptAsEntry(answer=text("可以开")))
    for decide in (
        lambda: learning.accept(staff["owner"], key, AcceptAsEntry(answer=text("x"))),
        lambda: learning.dismiss(staff["owner"], key),
    ):
        with pytest.raises(Conflict) as err:
            decide()
        assert err.value.code == "suggestion_decided"
    assert len(list(entries.iter_entries("shop-a"))) == 1


def test_a_failed_knowledge_base_change_leaves_the_suggestion_to_accept_again(staff, monkeypatch):
    entry = new_entry(staff["sup"], "如何申请发票")
    log_all("shop-a", INVOICE_ZH)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]

    def someone_changed_it_first(*args, **kwargs):
        raise Conflict("entry was changed by someone else", code="revision_conflict")

    update_entry = entries.update_entry
    monkeypatch.setattr(entries, "update_entry", someone_changed_it_first)
    with pytest.raises(Conflict) as err:
        learning.accept(staff["sup"], key, AcceptAsSimilar(entry_id=entry["entry_id"]))
    assert err.value.code == "revision_conflict"

    assert [s["key"] for s in learning.suggestions(staff["sup"])["suggestions"]] == [key]
    assert list_audit("shop-a", target=("bot_suggestion", key))[0] == []
    monkeypatch.setattr(entries, "update_entry", update_entry)
    learning.accept(staff["sup"], key, AcceptAsSimilar(entry_id=entry["entry_id"]))
    assert learning.suggestions(staff["sup"])["suggestions"] == []


def test_accept_finds_the_group_after_its_representative_changed(staff):
    log_all("shop-a", ["发票怎么开", "能开个发票吗"])
    listed = learning.suggestions(staff["sup"])["suggestions"][0]
    # Meanwhile more customers asked it another way: that wording now represents the group.
    log_all("shop-a", ["怎么开发票", "怎么开发票", "怎么开发票"])
    assert learning.suggestions(staff["sup"])["suggestions"][0]["representative"] == "怎么开发票"

    out = learning.accept(staff["sup"], listed["key"], AcceptAsEntry(answer=text("可以开")))
    assert out["entry"]["question"] == "怎么开发票"
    assert learning.suggestions(staff["sup"])["suggestions"] == []


def test_unknown_or_malformed_keys_are_not_found(staff):
    log_all("shop-a", INVOICE_ZH)
    for key in ("0123456789abcdef", "not-a-key", ""):
        with pytest.raises(NotFound) as err:
            learning.dismiss(staff["sup"], key)
        assert err.value.code == "suggestion_not_found"


def test_a_question_too_long_for_an_entry_needs_one_given(staff):
    long_question = "我想问一下发票的事情，" * 25  # 275 characters
    log("shop-a", long_question)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    with pytest.raises(BadRequest) as err:
        learning.accept(staff["sup"], key, AcceptAsEntry(answer=text("可以开")))
    assert err.value.code == "question_required"
    out = learning.accept(
        staff["sup"], key, AcceptAsEntry(answer=text("可以开"), question="发票的事情")
    )
    assert out["entry"]["similar_questions"] == []


# --- dismissing -----------------------------------------------------------------------------


def test_dismiss_hides_the_group_and_is_audited(staff):
    log_all("shop-a", INVOICE_ZH + SHIPPING_ZH)
    key = group_of(learning.suggestions(staff["sup"]), "发票怎么开")["key"]

    out = learning.dismiss(staff["sup"], key)

    assert (out["key"], out["state"], out["by"]) == (key, "dismissed", "sup")
    assert [s["representative"] for s in learning.suggestions(staff["sup"])["suggestions"]] == [
        "什么时候发货"
    ]
    records, _ = list_audit("shop-a", target=("bot_suggestion", key))
    assert [r["action"] for r in records] == ["bot.suggestion_dismissed"]
    assert list(entries.iter_entries("shop-a")) == []


# --- reports --------------------------------------------------------------------------------


def hit(entry, times=1, *, at=NOW, helpful=0, unhelpful=0):
    """What the bot turn does when it answers from an entry and gets feedback."""
    for _ in range(times):
        with write_transaction() as tx:
            add_hit(tx, "shop-a", entry["entry_id"], at)
    for value, n in ((True, helpful), (False, unhelpful)):
        for _ in range(n):
            with write_transaction() as tx:
                add_feedback(tx, "shop-a", entry["entry_id"], value)


def test_entry_report_counts_hits_and_helpfulness_most_hit_first(staff):
    refund = new_entry(staff["sup"], "怎么退款")
    invoice = new_entry(staff["sup"], "怎么开发票")
    quiet = new_entry(staff["sup"], "你们店在哪个城市")
    hit(invoice, 3, at=NOW - DAY, helpful=2, unhelpful=1)
    hit(refund, 5, at=NOW - 2 * DAY, helpful=1)

    report = learning_reports.entry_report(staff["sup"])

    rows = report["entries"]
    assert [r["entry_id"] for r in rows] == [
        refund["entry_id"],
        invoice["entry_id"],
        quiet["entry_id"],
    ]
    assert rows[0] == {
        "entry_id": refund["entry_id"],
        "question": "怎么退款",
        "category": None,
        "enabled": True,
        "hits": 5,
        "helpful": 1,
        "unhelpful": 0,
        "helpfulness": 1.0,
        "last_hit_at": NOW - 2 * DAY,
        "created_at": NOW,
    }
    assert rows[1]["helpfulness"] == round(2 / 3, 4)
    assert (rows[2]["hits"], rows[2]["helpfulness"], rows[2]["last_hit_at"]) == (0, None, None)
    assert report["totals"] == {
        "entries": 3,
        "hits": 8,
        "helpful": 3,
        "unhelpful": 1,
        "helpfulness": 0.75,
    }


def test_deleted_entries_are_not_reported(staff):
    gone = new_entry(staff["sup"], "怎么退款")
    entries.delete_entry(staff["sup"], None, gone["entry_id"])
    assert learning_reports.entry_report(staff["sup"])["entries"] == []


def test_unused_entries_are_enabled_ones_not_hit_in_the_window_or_never(staff, clock):
    clock.now = NOW - 60 * DAY
    never = new_entry(staff["sup"], "你们店在哪个城市")
    stale = new_entry(staff["sup"], "怎么退款")
    busy = new_entry(staff["sup"], "怎么开发票")
    off = new_entry(staff["sup"], "有优惠券吗")
    entries.update_entry(
        staff["sup"], None, off["entry_id"], entries.KbEntryChange(revision=1, enabled=False)
    )
    clock.now = NOW - 5 * DAY
    fresh = new_entry(staff["sup"], "什么时候发货")  # too new to judge
    clock.now = NOW
    hit(stale, at=NOW - 40 * DAY)
    hit(busy, at=NOW - 3 * DAY)

    report = learning_reports.unused_entries(staff["sup"], days=30)
    assert [(r["entry_id"], r["never_hit"]) for r in report["entries"]] == [
        (never["entry_id"], True),
        (stale["entry_id"], False),
    ]
    assert report["since"] == NOW - 30 * DAY
    # Over a week, the new entry has been around long enough; over 50 days the stale one
    # was used.
    week = learning_reports.unused_entries(staff["sup"], days=4)
    assert fresh["entry_id"] in [r["entry_id"] for r in week["entries"]]
    assert busy["entry_id"] not in [r["entry_id"] for r in week["entries"]]
    fifty = learning_reports.unused_entries(staff["sup"], days=50)
    assert [r["entry_id"] for r in fifty["entries"]] == [never["entry_id"]]


# --- who may -------------------------------------------------------------------------------


def test_agents_may_not_use_the_learning_loop(staff):
    log_all("shop-a", INVOICE_ZH)
    key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    agent = staff["agent"]
    for call in (
        lambda: learning.suggestions(agent),
        lambda: learning.accept(agent, key, AcceptAsEntry(answer=text("x"))),
        lambda: learning.dismiss(agent, key),
        lambda: learning_reports.entry_report(agent),
        lambda: learning_reports.unused_entries(agent),
    ):
        with pytest.raises(Forbidden):
            call()
    assert [s["key"] for s in learning.suggestions(staff["owner"])["suggestions"]] == [key]


def test_each_shop_sees_and_decides_only_its_own(staff):
    log_all("shop-a", INVOICE_ZH)
    log_all("shop-b", SHIPPING_ZH)
    a_key = learning.suggestions(staff["sup"])["suggestions"][0]["key"]
    b_listing = learning.suggestions(staff["other"])
    assert [s["representative"] for s in b_listing["suggestions"]] == ["什么时候发货"]

    with pytest.raises(NotFound):
        learning.dismiss(staff["other"], a_key)
    with pytest.raises(NotFound):
        learning.accept(staff["other"], a_key, AcceptAsEntry(answer=text("x")))
    # Nor may a shop add its questions to another shop's entry.
    a_entry = new_entry(staff["sup"], "如何申请发票")
    b_key = b_listing["suggestions"][0]["key"]
    with pytest.raises(NotFound) as err:
        learning.accept(staff["other"], b_key, AcceptAsSimilar(entry_id=a_entry["entry_id"]))
    assert err.value.code == "entry_not_found"
    assert [s["key"] for s in learning.suggestions(staff["sup"])["suggestions"]] == [a_key]
    assert learning_reports.entry_report(staff["other"])["entries"] == []
    # ...nor a platform-wide entry, unless it is the platform's staff.
    with pytest.raises(Forbidden):
        learning.accept(
            staff["other"], b_key, AcceptAsSimilar(entry_id=a_entry["entry_id"], scope="platform")
        )
