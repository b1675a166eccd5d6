"""Specification: keyword auto-reply rules. A message is answered by the highest-priority enabled
rule whose keywords it equals (exact), contains, or whose RE2 patterns it matches — for its
channel, at that moment — and the compiled matcher gives exactly the answers of a naive check
of every rule. Rules are validated with clear 400s; every change bumps the shop's revision in
the transaction that writes it and its audit record, and the bot's cached matcher follows the
revision."""

import datetime as dt
import random
import time
import unicodedata
from zoneinfo import ZoneInfo

import msgspec
import pytest
from kefu.audit import list_audit
from kefu.bot import keyword_rules as kr
from kefu.bot import keyword_rules_admin as admin
from kefu.bot import keyword_rules_matcher as matching
from kefu.bot.keyword_rules import (
    KeywordRuleChange,
    KeywordRuleTest,
    NewKeywordRule,
    check_rule,
    normalise,
)
from kefu.bot.keyword_rules_matcher import RuleMatcher, add_hit, matcher_for
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.storage.keyword_rules import KeywordRule, KeywordRulesHead
from kefu.storage.tx import write_transaction
from kefu.tickets.calendar import from_document

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(y, mo, d, h, mi=0):
    """Epoch ms of a wall-clock time in Shanghai."""
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=SHANGHAI).timestamp() * 1000)


MONDAY_10 = _at(2025, 6, 2, 10)  # 2025-06-02 is a Monday
MONDAY_23 = _at(2025, 6, 2, 23)
TUESDAY_03 = _at(2025, 6, 3, 3)
SATURDAY_10 = _at(2025, 6, 7, 10)
TEXT = [{"type": "text", "content": "您好"}]


def new_rule(**fields) -> NewKeywordRule:
    """A request body as the API decodes it (types and limits checked)."""
    fields.setdefault("name", "rule")
    fields.setdefault("keywords", ["x"])
    fields.setdefault("replies", TEXT)
    return msgspec.convert(fields, NewKeywordRule)


def stored(rule_id: str, **fields) -> KeywordRule:
    """A rule as stored, validated exactly as create_rule does."""
    return KeywordRule(
        "shop-a", KeywordRule.key(rule_id), rule_id=rule_id, **check_rule(new_rule(**fields))
    )


def answer(rules, text, channel="wechat_miniprogram", at=MONDAY_10, calendar=None, matcher=None):
    found = (matcher or RuleMatcher(rules)).match(text, channel, at, calendar)
    expected = naive_match(rules, text, channel, at, calendar)
    assert (found.rule_id if found else None) == expected, "matcher and naive check disagree"
    return found.rule_id if found else None


def naive_match(rules, text, channel, at, calendar):
    """The specification: every rule checked directly, then ranked."""
    import re2
    from kefu.matching import in_weekly_window, minutes
    from kefu.tickets.calendar import is_open_ms

    text = text[: kr.MAX_MATCH_CHARS]
    norm = normalise(text)
    hits = []
    for r in rules:
        if not r.enabled:
            continue
        lengths = []
        for kw in r.keywords:
            key = normalise(kw)
            if (r.match_mode == "exact" and key == norm) or (
                r.match_mode == "contains" and key in norm
            ):
                lengths.append(len(key))
            elif r.match_mode == "regex":
                m = re2.search(kw, unicodedata.normalize("NFKC", text))
                if m is not None:
                    lengths.append(m.end() - m.start())
        if not lengths:
            continue
        if r.channels and channel not in r.channels:
            continue
        when = r.active["when"]
        is_open = True if calendar is None else is_open_ms(at, calendar)
        if when == "business_hours" and not is_open:
            continue
        if when == "off_hours" and is_open:
            continue
        if when == "windows":
            local = dt.datetime.fromtimestamp(at / 1000, tz=ZoneInfo(r.active["timezone"]))
            if not any(
                in_weekly_window(local, set(w["days"]), minutes(w["start"]), minutes(w["end"]))
                for w in r.active["windows"]
            ):
                continue
        hits.append((-r.priority, -max(lengths), r.rule_id))
    return min(hits)[2] if hits else None


# ------------------------------------------------------------------------------ validation


def _refused(code, **fields):
    with pytest.raises(BadRequest) as err:
        check_rule(new_rule(**fields))
    assert err.value.code == code, err.value.message
    return err.value.message


def test_an_invalid_or_unsupported_regex_is_refused_with_re2s_reason():
    message = _refused("invalid_regex", match_mode="regex", keywords=["订单", "(a)\\1"])
    assert "pattern 2" in message and "backreferences" in message
    assert "missing ]" in _refused("invalid_regex", match_mode="regex", keywords=["[abc"])
    assert "lookaround" in _refused("invalid_regex", match_mode="regex", keywords=["(?=a)b"])
    assert "empty string" in _refused("invalid_regex", match_mode="regex", keywords=["a*"])
    assert "too large" in _refused("invalid_regex", match_mode="regex", keywords=[r"\pL{1000}"])
    with pytest.raises(msgspec.ValidationError):  # the type's own limit: 200 characters
        new_rule(match_mode="regex", keywords=["a" * 201])


def test_keyword_counts_and_lengths_are_limited():
    with pytest.raises(msgspec.ValidationError):
        new_rule(keywords=[f"k{i}" for i in range(51)])
    assert "limit is 50" in _refused("keyword_too_long", keywords=["退" * 51])
    _refused("empty_keyword", keywords=["退款", " ？！"])
    assert check_rule(new_rule(keywords=["退款", "退款！", " 退款"]))["keywords"] == ["退款"]


def test_replies_channels_and_hours_are_checked():
    assert "{nickname}" in _refused(
        "unknown_variable", replies=[{"type": "text", "content": "{nickname}您好"}]
    )
    _refused("invalid_reply", replies=[{"type": "image"}])
    _refused(
        "invalid_reply",
        replies=[{"type": "image", "media_id": "m", "url": "https://x.example/a.png"}],
    )
    with pytest.raises(msgspec.ValidationError):
        new_rule(keywords=["x"], replies=TEXT * 6)
    with pytest.raises(msgspec.ValidationError):
        new_rule(keywords=["x"], channels=["wechat_official_account"])
    _refused("invalid_active", keywords=["x"], active={"when": "windows"})
    _refused(
        "invalid_active",
        keywords=["x"],
        active={"when": "always", "windows": [{"days": [1], "start": "09:00", "end": "18:00"}]},
    )
    _refused("invalid_timezone", keywords=["x"], active={"when": "always", "timezone": "Mars/Base"})
    ok = check_rule(
        new_rule(
            keywords=["x"],
            channels=["h5", "app", "h5"],
            replies=[
                {"type": "text", "content": "{customer_name|亲}您好"},
                {"type": "image", "url": "https://x.example/a.png"},
                {
                    "type": "miniprogrampage",
                    "title": "订单",
                    "pagepath": "pages/o",
                    "thumb_media_id": "t",
                },
            ],
        )
    )
    assert ok["channels"] == ["app", "h5"]
    assert ok["active"] == {"when": "always", "timezone": "Asia/Shanghai"}
    assert [r["type"] for r in ok["replies"]] == ["text", "image", "miniprogrampage"]


def test_a_catastrophic_pattern_runs_in_linear_time():
    rules = [stored("kwr_a", match_mode="regex", keywords=["(a+)+$", "(x+x+)+y"])]
    matcher = RuleMatcher(rules)
    evil = "a" * 1999 + "b"
    started = time.perf_counter()
    for _ in range(20):
        assert matcher.match(evil, "app", MONDAY_10) is None
        assert matcher.match("x" * 1999 + "!", "app", MONDAY_10) is None
    assert time.perf_counter() - started < 0.5  # backtracking would take longer than the universe
    assert matcher.match("aaaa", "app", MONDAY_10).rule_id == "kwr_a"


def test_only_the_first_2000_characters_are_matched():
    rules = [stored("kwr_a", keywords=["退款"])]
    assert answer(rules, "x" * 1990 + "我要退款") == "kwr_a"
    assert answer(rules, "x" * 2000 + "我要退款") is None


# ------------------------------------------------------------------------------ matching


def test_exact_is_the_whole_normalised_message_contains_is_anywhere():
    rules = [
        stored("kwr_exact", match_mode="exact", keywords=["Refund", "在吗"]),
        stored("kwr_contains", match_mode="contains", keywords=["发票"]),
    ]
    assert normalise("  ＲＥＦＵＮＤ？！ ") == "refund"
    for text in ("refund", "Refund?", "ＲＥＦＵＮＤ！！", "  在吗～ ", "在吗？？"):
        assert answer(rules, text) == "kwr_exact", text
    for text in ("I want a refund", "在吗在吗", "refund now"):
        assert answer(rules, text) is None, text
    assert answer(rules, "可以开发票吗") == "kwr_contains"
    assert answer(rules, "发票") == "kwr_contains"


def test_regex_rules_see_the_nfkc_text_case_sensitively_unless_told():
    rules = [
        stored("kwr_order", match_mode="regex", keywords=[r"订单号?\s*\d{6,}"]),
        stored("kwr_sku", match_mode="regex", keywords=[r"SKU-\d+"]),
        stored("kwr_ci", match_mode="regex", keywords=[r"(?i)invoice"]),
    ]
    assert answer(rules, "订单 １２３４５６ 到哪了") == "kwr_order"  # full-width digits
    assert answer(rules, "订单 12345") is None
    assert answer(rules, "sku-1") is None
    assert answer(rules, "SKU-1") == "kwr_sku"
    assert answer(rules, "INVOICE please") == "kwr_ci"


def test_the_highest_priority_wins_then_the_longest_keyword_then_the_rule_id():
    rules = [
        stored("kwr_b", keywords=["退款"], priority=1),
        stored("kwr_a", keywords=["退款"], priority=1),
        stored("kwr_long", keywords=["退款进度"], priority=1),
        stored("kwr_top", keywords=["进度"], priority=5),
    ]
    assert answer(rules, "我要退款") == "kwr_a"  # same priority and length: lower id
    assert answer(rules, "退款进度怎么查") == "kwr_top"
    assert answer(rules[:3], "退款进度怎么查") == "kwr_long"


def test_channels_and_enabled_filter_the_candidates():
    rules = [
        stored("kwr_app", keywords=["优惠券"], priority=9, channels=["app"]),
        stored("kwr_any", keywords=["优惠券"], priority=1),
        stored("kwr_off", keywords=["优惠"], priority=10, enabled=False),
    ]
    assert answer(rules, "优惠券怎么用", channel="app") == "kwr_app"
    assert answer(rules, "优惠券怎么用", channel="wechat_miniprogram") == "kwr_any"
    assert answer(rules, "有优惠吗") is None


def test_windows_in_the_rules_timezone_including_overnight():
    nights = {
        "when": "windows",
        "windows": [{"days": [1, 2, 3, 4, 5], "start": "22:00", "end": "06:00"}],
    }
    weekend = {"when": "windows", "windows": [{"days": [6, 7], "start": "00:00", "end": "24:00"}]}
    rules = [
        stored("kwr_night", keywords=["人工"], priority=2, active=nights),
        stored("kwr_weekend", keywords=["人工"], priority=1, active=weekend),
    ]
    assert answer(rules, "转人工", at=MONDAY_23) == "kwr_night"
    assert answer(rules, "转人工", at=TUESDAY_03) == "kwr_night"  # Monday's window
    assert answer(rules, "转人工", at=MONDAY_10) is None
    assert answer(rules, "转人工", at=SATURDAY_10) == "kwr_weekend"
    utc = {**weekend, "timezone": "UTC"}  # Saturday 00:00 UTC is Saturday 08:00 in Shanghai
    assert (
        answer([stored("kwr_utc", keywords=["人工"], active=utc)], "人工", at=_at(2025, 6, 7, 7))
        is None
    )


def test_business_and_off_hours_follow_the_shops_calendar():
    calendar = from_document(
        {
            "timezone": "Asia/Shanghai",
            "weekly": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2025-06-02"],  # this Monday is a holiday
            "workdays": ["2025-06-07"],  # this Saturday is a make-up working day (调休)
        }
    )
    rules = [
        stored("kwr_day", keywords=["发货"], active={"when": "business_hours"}),
        stored("kwr_night", keywords=["发货"], active={"when": "off_hours"}),
    ]
    assert answer(rules, "什么时候发货", at=MONDAY_10, calendar=calendar) == "kwr_night"
    assert answer(rules, "什么时候发货", at=SATURDAY_10, calendar=calendar) == "kwr_day"
    assert answer(rules, "什么时候发货", at=_at(2025, 6, 3, 10), calendar=calendar) == "kwr_day"
    assert answer(rules, "什么时候发货", at=_at(2025, 6, 3, 19), calendar=calendar) == "kwr_night"
    # No calendar: business hours are always, so off-hours rules never answer.
    assert answer(rules, "什么时候发货", at=MONDAY_23) == "kwr_day"
    assert answer(rules[1:], "什么时候发货", at=MONDAY_23) is None
    assert RuleMatcher(rules).needs_calendar


@pytest.mark.parametrize("n", [10, 1000])
def test_the_compiled_matcher_agrees_with_a_naive_check_of_every_rule(n):
    rng = random.Random(n)
    words = ["快递", "物流", "退款", "发票", "尺码", "优惠券", "SKU", "在吗", "人工", "会员"]
    modes = ["exact", "contains", "contains", "contains"]
    rules = []
    for i in range(n):
        mode = rng.choice(modes) if i % 97 else "regex"
        if mode == "regex":
            keywords = [rng.choice([r"SKU-\d{3}", r"(?i)vip", r"\d{6,}"])]
        else:
            keywords = rng.sample(words, 2) + [f"款号{i:04d}"]
        rules.append(
            stored(
                f"kwr_{i:05d}",
                match_mode=mode,
                keywords=keywords,
                priority=rng.randrange(4),
                channels=rng.choice([[], [], ["app"], ["h5", "wechat_miniprogram"]]),
                enabled=rng.random() > 0.1,
                active=rng.choice(
                    [
                        {"when": "always"},
                        {
                            "when": "windows",
                            "windows": [{"days": [1, 2], "start": "09:00", "end": "12:00"}],
                        },
                    ]
                ),
            )
        )
    messages = [
        "我的快递到哪了",
        "在吗",
        "退款！",
        "款号0007 有货吗",
        "SKU-123 VIP",
        "订单 1234567",
        "发票",
        "你好",
        "优惠券 物流 人工",
        "尺码",
    ]
    matcher = RuleMatcher(rules)
    for _ in range(200):
        answer(
            rules,
            rng.choice(messages) + rng.choice(["", "？", f" 款号{rng.randrange(n):04d}"]),
            channel=rng.choice(["app", "h5", "wechat_miniprogram"]),
            at=rng.choice([MONDAY_10, MONDAY_23, SATURDAY_10]),
            matcher=matcher,
        )


# ------------------------------------------------------------------------------ storage


@pytest.fixture
def staff(kefu_env):
    from tests.support.factories import make_shop, make_staff

    make_shop("shop-a")
    make_shop("shop-b")
    return {
        "owner": make_staff("shop-a", "boss", "owner"),
        "sup": make_staff("shop-a", "laoli", "supervisor"),
        "agent": make_staff("shop-a", "xiaowang", "agent"),
        "other": make_staff("shop-b", "boss", "owner"),
    }


def _revision(shop="shop-a"):
    return admin.revision(shop)


def test_each_change_bumps_the_revision_with_its_audit_record(staff):
    owner = staff["owner"]
    assert _revision() == 0
    created = admin.create_rule(owner, new_rule(name="退款", keywords=["退款"], priority=3))
    rule_id = created["rule_id"]
    assert rule_id.startswith("kwr_") and created["hits"] == 0 and created["last_hit_at"] is None
    assert _revision() == 1
    changed = admin.update_rule(staff["sup"], rule_id, KeywordRuleChange(priority=7, enabled=False))
    assert (changed["priority"], changed["enabled"], changed["updated_by"]) == (7, False, "laoli")
    assert changed["keywords"] == ["退款"]
    assert _revision() == 2
    admin.delete_rule(owner, rule_id)
    assert _revision() == 3
    with pytest.raises(NotFound):
        admin.get_rule(owner, rule_id)
    records, _ = list_audit("shop-a", target=("keyword_rule", rule_id))
    assert [r["action"] for r in records] == [
        "keyword_rule.deleted",
        "keyword_rule.updated",
        "keyword_rule.created",
    ]
    assert records[1]["before"]["priority"] == 3 and records[1]["after"]["priority"] == 7
    head = KeywordRulesHead.get("shop-a", KeywordRulesHead.key())
    assert (head.rule_count, head.regex_rule_count) == (0, 0)


def test_a_change_is_checked_as_a_whole_rule(staff):
    owner = staff["owner"]
    rule_id = admin.create_rule(owner, new_rule(keywords=["(a)"]))["rule_id"]
    with pytest.raises(BadRequest) as err:  # contains keywords are not patterns until switched
        admin.update_rule(
            owner, rule_id, KeywordRuleChange(match_mode="regex", keywords=["(a)\\1"])
        )
    assert err.value.code == "invalid_regex"
    # {} changes nothing and says so by answering the rule as it is (no write, no audit).
    unchanged = admin.get_rule(owner, rule_id)
    assert admin.update_rule(owner, rule_id, KeywordRuleChange()) == unchanged
    switched = admin.update_rule(owner, rule_id, KeywordRuleChange(match_mode="regex"))
    assert switched["match_mode"] == "regex"
    assert KeywordRulesHead.get("shop-a", KeywordRulesHead.key()).regex_rule_count == 1


def test_agents_read_and_try_owners_and_supervisors_edit(staff):
    agent = staff["agent"]
    with pytest.raises(Forbidden):
        admin.create_rule(agent, new_rule(keywords=["x"]))
    rule_id = admin.create_rule(staff["sup"], new_rule(keywords=["x"]))["rule_id"]
    assert admin.get_rule(agent, rule_id)["rule_id"] == rule_id
    assert [r["rule_id"] for r in admin.list_rules(agent)["rules"]] == [rule_id]
    assert admin.try_rules(agent, KeywordRuleTest(text="x"))["matched"] is True
    with pytest.raises(Forbidden):
        admin.update_rule(agent, rule_id, KeywordRuleChange(priority=1))
    with pytest.raises(Forbidden):
        admin.delete_rule(agent, rule_id)


def test_a_shop_sees_only_its_own_rules(staff):
    rule_id = admin.create_rule(staff["owner"], new_rule(keywords=["退款"]))["rule_id"]
    other = staff["other"]
    with pytest.raises(NotFound):
        admin.get_rule(other, rule_id)
    with pytest.raises(NotFound):
        admin.update_rule(other, rule_id, KeywordRuleChange(priority=1))
    with pytest.raises(NotFound):
        admin.delete_rule(other, rule_id)
    assert admin.list_rules(other)["rules"] == []
    assert admin.try_rules(other, KeywordRuleTest(text="退款"))["matched"] is False
    with pytest.raises(NotFound):
        admin.get_rule(other, "../rules")


def test_a_concurrent_edit_is_a_409_not_a_silent_overwrite(staff, monkeypatch):
    owner = staff["owner"]
    rule_id = admin.create_rule(owner, new_rule(keywords=["x"]))["rule_id"]
    stale = admin._get("shop-a", rule_id)
    admin.update_rule(owner, rule_id, KeywordRuleChange(name="first"))
    monkeypatch.setattr(admin, "_get", lambda shop_id, rid: stale)
    with pytest.raises(Conflict) as err:
        admin.update_rule(owner, rule_id, KeywordRuleChange(name="second"))
    assert err.value.code == "stale"
    monkeypatch.undo()
    assert admin.get_rule(owner, rule_id)["name"] == "first"


def test_the_shops_limits_are_kept_in_the_write(staff, monkeypatch):
    owner = staff["owner"]
    monkeypatch.setattr(admin, "MAX_REGEX_RULES", 1)
    monkeypatch.setattr(admin, "MAX_RULES", 2)
    admin.create_rule(owner, new_rule(match_mode="regex", keywords=[r"\d+"]))
    with pytest.raises(BadRequest) as err:
        admin.create_rule(owner, new_rule(match_mode="regex", keywords=[r"\w+"]))
    assert err.value.code == "rule_limit" and "regex" in err.value.message
    admin.create_rule(owner, new_rule(keywords=["x"]))
    with pytest.raises(BadRequest) as err:
        admin.create_rule(owner, new_rule(keywords=["y"]))
    assert err.value.code == "rule_limit"
    assert _revision() == 2  # refused writes change nothing


def test_the_matcher_is_cached_per_revision_and_reloaded_with_one_query(staff, monkeypatch):
    owner = staff["owner"]
    assert matcher_for("shop-a", 0) is matching.EMPTY  # never had a rule: nothing to read
    admin.create_rule(owner, new_rule(name="a", keywords=["退款"]))
    queries = []
    real_query = KeywordRule.query
    monkeypatch.setattr(
        KeywordRule, "query", lambda *a, **k: queries.append(a) or real_query(*a, **k)
    )
    first = matcher_for("shop-a", _revision())
    assert matcher_for("shop-a", _revision()) is first
    assert len(queries) == 1
    assert first.match("我要退款", "app", MONDAY_10).name == "a"
    assert first.match("发票", "app", MONDAY_10) is None
    admin.create_rule(owner, new_rule(name="b", keywords=["发票"]))
    second = matcher_for("shop-a", _revision())
    assert second is not first and len(queries) == 2
    assert second.match("发票", "app", MONDAY_10).name == "b"


def test_hits_are_counted_in_the_callers_transaction(staff):
    owner = staff["owner"]
    rule_id = admin.create_rule(owner, new_rule(keywords=["退款"]))["rule_id"]
    for at in (MONDAY_10, MONDAY_23):
        with write_transaction() as tx:
            add_hit(tx, "shop-a", rule_id, at)
    listed = admin.list_rules(staff["agent"])["rules"]
    assert [(r["hits"], r["last_hit_at"]) for r in listed] == [(2, MONDAY_23)]
    # A hit racing a delete leaves a counters-only stub that nothing shows or matches.
    admin.delete_rule(owner, rule_id)
    with write_transaction() as tx:
        add_hit(tx, "shop-a", rule_id, MONDAY_23)
    assert admin.list_rules(owner)["rules"] == []
    assert len(matcher_for("shop-a", _revision())) == 0
    with pytest.raises(NotFound):
        admin.get_rule(owner, rule_id)


def test_listing_pages_through_the_rules(staff):
    owner = staff["owner"]
    ids = [admin.create_rule(owner, new_rule(keywords=[f"k{i}"]))["rule_id"] for i in range(3)]
    first = admin.list_rules(owner, limit=2)
    assert [r["rule_id"] for r in first["rules"]] == ids[:2] and first["revision"] == 3
    rest = admin.list_rules(owner, limit=2, cursor=first["next_cursor"])
    assert [r["rule_id"] for r in rest["rules"]] == ids[2:]


def test_trying_a_message_with_saved_and_draft_rules(staff):
    from kefu.storage.workbench import SlaCalendar

    owner = staff["owner"]
    saved = admin.create_rule(
        owner,
        new_rule(
            name="退款",
            keywords=["退款"],
            replies=[{"type": "text", "content": "{customer_name|亲}您好，{shop_name}7 天无理由"}],
        ),
    )
    tried = admin.try_rules(owner, KeywordRuleTest(text="我要退款", variables={"shop_name": "A店"}))
    assert (tried["matched"], tried["draft"], tried["keyword"]) == (True, False, "退款")
    assert tried["rule"]["rule_id"] == saved["rule_id"] and tried["revision"] == 1
    assert tried["replies"] == [{"type": "text", "content": {"text": "亲您好，A店7 天无理由"}}]
    draft = new_rule(
        name="草稿", keywords=["退款"], priority=5, replies=[{"type": "text", "content": "新"}]
    )
    tried = admin.try_rules(owner, KeywordRuleTest(text="退款", rule=draft))
    assert (tried["draft"], tried["rule"]["name"], tried["replies"][0]["content"]["text"]) == (
        True,
        "草稿",
        "新",
    )
    # Trying an edit: the draft stands in for the saved rule.
    edit = new_rule(name="改", keywords=["发票"])
    tried = admin.try_rules(
        owner, KeywordRuleTest(text="退款", rule=edit, replaces=saved["rule_id"])
    )
    assert tried["matched"] is False
    with pytest.raises(NotFound):
        admin.try_rules(
            owner, KeywordRuleTest(text="x", rule=edit, replaces="kwr_0000000000000aaaaaaaaaa")
        )
    # Off-hours rules are tried against the shop's stored calendar.
    night = new_rule(name="夜", keywords=["退款"], priority=9, active={"when": "off_hours"})
    admin.create_rule(owner, night)
    at_night = KeywordRuleTest(text="退款", at=MONDAY_23)
    assert (
        admin.try_rules(owner, at_night)["rule"]["name"] == "退款"
    )  # no calendar: never off hours
    SlaCalendar(
        "shop-a",
        SlaCalendar.key(),
        calendar={"timezone": "Asia/Shanghai", "weekly": {"mon": ["09:00-18:00"]}},
        updated_at=1,
        updated_by="boss",
    ).save()
    assert admin.try_rules(owner, at_night)["rule"]["name"] == "夜"
    assert (
        admin.try_rules(owner, KeywordRuleTest(text="退款", at=MONDAY_10))["rule"]["name"] == "退款"
    )
    assert admin.list_rules(owner)["rules"][0]["hits"] == 0  # trying counts nothing
