"""Specification: knowledge-base entries — written, changed, deleted and restored as numbered
revisions, each with a snapshot and an audit record; optimistic concurrency; who may do what,
and in which partition (the shop's, or the platform's)."""

import pytest
from kefu.audit import list_audit
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.knowledge import entries
from kefu.knowledge.entries import KbRestore
from kefu.knowledge.publish import get_head

from tests.support.factories import make_shop, make_staff
from tests.unit.knowledge.conftest import change, new_entry, text


def test_a_supervisor_writes_an_entry_with_a_rich_answer_as_revision_1(staff):
    rich = [
        {"type": "text", "content": "签收 7 天内可无理由退货"},
        {"type": "image", "media_id": "MEDIA_1"},
        {
            "type": "miniprogrampage",
            "title": "申请售后",
            "pagepath": "pages/aftersale/index",
            "thumb_media_id": "THUMB_1",
        },
    ]
    entry = entries.create_entry(
        staff["sup"],
        None,
        new_entry(
            " 怎么退货？ ",
            "如何退货",
            "如何退货",
            "怎么退货？",
            rich=rich,
            category="售后",
            tags=["退货", "退货", "售后"],
        ),
    )
    assert entry["question"] == "怎么退货？"
    assert entry["similar_questions"] == ["如何退货"]  # repeats of each other and the question go
    assert entry["tags"] == ["退货", "售后"]
    assert entry["answer"] == rich
    assert (entry["revision"], entry["state"], entry["scope"]) == (1, "active", "shop-a")
    assert entries.get_entry(staff["agent"], None, entry["entry_id"]) == entry

    versions, _ = entries.list_versions(
        staff["agent"], None, entry["entry_id"], limit=10, cursor=None
    )
    assert [(v["revision"], v["action"], v["by"]) for v in versions] == [(1, "created", "sup")]
    assert versions[0]["content"]["answer"] == rich
    head = get_head(staff["agent"], None)
    assert (head["draft_revision"], head["entry_total"], head["unpublished_changes"]) == (
        1,
        1,
        True,
    )
    records, _ = list_audit("shop-a", target=("kb_entry", entry["entry_id"]))
    assert [r["action"] for r in records] == ["knowledge.entry_created"]
    assert records[0]["after"]["question"] == "怎么退货？"


@pytest.mark.parametrize(
    "answer, message",
    [
        ([{"type": "image"}], "media_id or url"),
        ([{"type": "image", "media_id": "M", "url": "https://x.cn/a.png"}], "media_id or url"),
        ([{"type": "text", "content": "   "}], "blank"),
    ],
)
def test_an_answer_that_cannot_be_sent_is_refused(staff, answer, message):
    with pytest.raises(BadRequest, match=message) as raised:
        entries.create_entry(staff["sup"], None, new_entry("运费多少", rich=answer))
    assert raised.value.code == "invalid_entry"


def test_a_validity_window_must_end_after_it_starts(staff):
    with pytest.raises(BadRequest, match="before valid_until"):
        entries.create_entry(
            staff["sup"], None, new_entry("双十一活动", valid_from=2000, valid_until=1000)
        )


def test_each_change_is_a_new_revision_with_its_snapshot_and_audit(staff):
    sup = staff["sup"]
    entry = entries.create_entry(sup, None, new_entry("多久发货", "什么时候发货"))
    eid = entry["entry_id"]

    changed = entries.update_entry(
        sup, None, eid, change(1, answer=text("48 小时内发货"), category="物流")
    )
    assert (changed["revision"], changed["category"]) == (2, "物流")
    assert changed["answer"] == text("48 小时内发货")
    assert changed["similar_questions"] == ["什么时候发货"]  # untouched fields stay

    cleared = entries.update_entry(sup, None, eid, change(2, category=None, enabled=False))
    assert (cleared["revision"], cleared["category"], cleared["state"]) == (3, None, "disabled")

    versions, _ = entries.list_versions(sup, None, eid, limit=10, cursor=None)
    assert [v["revision"] for v in versions] == [3, 2, 1]
    assert versions[1]["content"]["answer"] == text("48 小时内发货")
    assert versions[2]["content"]["answer"] == text("答案")
    assert get_head(sup, None)["draft_revision"] == 3
    records, _ = list_audit("shop-a", target=("kb_entry", eid))
    assert [r["action"] for r in records] == [
        "knowledge.entry_updated",
        "knowledge.entry_updated",
        "knowledge.entry_created",
    ]
    assert records[1]["before"]["category"] is None and records[1]["after"]["category"] == "物流"


def test_a_change_to_nothing_is_not_a_revision(staff):
    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    same = entries.update_entry(sup, None, eid, change(1, question="多久发货 "))
    assert same["revision"] == 1
    with pytest.raises(BadRequest) as raised:
        entries.update_entry(sup, None, eid, change(1))
    assert raised.value.code == "empty_change"


def test_a_change_based_on_an_old_revision_is_a_409_and_writes_nothing(staff):
    sup, owner = staff["sup"], staff["owner"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    entries.update_entry(owner, None, eid, change(1, answer=text("当天发")))
    with pytest.raises(Conflict) as raised:
        entries.update_entry(sup, None, eid, change(1, answer=text("次日发")))
    assert raised.value.code == "revision_conflict"
    assert entries.get_entry(sup, None, eid)["answer"] == text("当天发")


def test_a_change_racing_another_fails_its_condition_not_just_the_early_check(staff, monkeypatch):
    """Both read revision 1; the other writes first. The transaction's condition catches it."""
    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    stale = entries.load_entry("shop-a", eid)
    entries.update_entry(staff["owner"], None, eid, change(1, answer=text("当天发")))
    monkeypatch.setattr(entries, "load_entry", lambda *a, **k: stale)
    with pytest.raises(Conflict) as raised:
        entries.update_entry(sup, None, eid, change(1, answer=text("次日发")))
    assert raised.value.code == "revision_conflict"
    monkeypatch.undo()
    entry = entries.get_entry(sup, None, eid)
    assert (entry["revision"], entry["answer"]) == (2, text("当天发"))
    versions, _ = entries.list_versions(sup, None, eid, limit=10, cursor=None)
    assert [v["revision"] for v in versions] == [2, 1]


def test_a_change_keeps_the_counters_the_bot_adds_meanwhile(staff):
    from kefu.knowledge.published import add_hit
    from kefu.storage.tx import write_transaction

    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    with write_transaction() as tx:
        add_hit(tx, "shop-a", eid, 1234)
    entry = entries.update_entry(sup, None, eid, change(1, answer=text("当天发")))
    assert (entry["hits"], entry["last_hit_at"]) == (1, 1234)


def test_deleting_keeps_the_entry_as_a_version_and_restoring_brings_it_back(staff):
    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货", "几天发货"))["entry_id"]
    entries.update_entry(sup, None, eid, change(1, answer=text("当天发")))

    deleted = entries.delete_entry(sup, None, eid, revision="2")
    assert deleted == {"entry_id": eid, "deleted": True, "revision": 3}
    with pytest.raises(NotFound):
        entries.get_entry(sup, None, eid)
    assert entries.list_entries(sup, None)[0] == []
    assert get_head(sup, None)["entry_total"] == 0
    versions, _ = entries.list_versions(sup, None, eid, limit=10, cursor=None)
    assert (versions[0]["action"], versions[0]["deleted"]) == ("deleted", True)
    assert versions[0]["content"]["answer"] == text("当天发")

    restored = entries.restore_version(sup, None, eid, "1", KbRestore(revision=3))
    assert (restored["revision"], restored["answer"], restored["state"]) == (
        4,
        text("答案"),
        "active",
    )
    versions, _ = entries.list_versions(sup, None, eid, limit=1, cursor=None)
    assert (versions[0]["action"], versions[0]["restored_from"]) == ("restored", 1)
    assert get_head(sup, None)["entry_total"] == 1
    actions = [r["action"] for r in list_audit("shop-a", target=("kb_entry", eid))[0]]
    assert actions[:2] == ["knowledge.entry_restored", "knowledge.entry_deleted"]


def test_restore_and_delete_check_the_revision_too(staff):
    sup = staff["sup"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    entries.update_entry(sup, None, eid, change(1, answer=text("当天发")))
    with pytest.raises(Conflict):
        entries.restore_version(sup, None, eid, "1", KbRestore(revision=1))
    with pytest.raises(Conflict):
        entries.delete_entry(sup, None, eid, revision="1")
    with pytest.raises(NotFound) as raised:
        entries.restore_version(sup, None, eid, "9", KbRestore(revision=2))
    assert raised.value.code == "version_not_found"


def test_agents_read_but_cannot_change_the_knowledge_base(staff):
    sup, agent = staff["sup"], staff["agent"]
    eid = entries.create_entry(sup, None, new_entry("多久发货"))["entry_id"]
    assert entries.get_entry(agent, None, eid)["question"] == "多久发货"
    with pytest.raises(Forbidden):
        entries.create_entry(agent, None, new_entry("运费"))
    with pytest.raises(Forbidden):
        entries.update_entry(agent, None, eid, change(1, enabled=False))
    with pytest.raises(Forbidden):
        entries.delete_entry(agent, None, eid)
    with pytest.raises(Forbidden):
        entries.restore_version(agent, None, eid, "1", KbRestore(revision=1))


def test_another_shops_entry_does_not_exist_for_the_caller(staff):
    eid = entries.create_entry(staff["sup"], None, new_entry("多久发货"))["entry_id"]
    other = staff["other"]
    for attempt in (
        lambda: entries.get_entry(other, None, eid),
        lambda: entries.update_entry(other, None, eid, change(1, enabled=False)),
        lambda: entries.delete_entry(other, None, eid),
        lambda: entries.list_versions(other, None, eid, limit=5, cursor=None),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert entries.list_entries(other, None)[0] == []


def test_only_the_malls_platform_staff_work_on_its_platform_entries(staff):
    ops = staff["platform"]
    entry = entries.create_entry(ops, "platform", new_entry("平台包邮规则"))
    assert entry["scope"] == "platform/mall-hq"
    assert [e["entry_id"] for e in entries.list_entries(ops, "platform")[0]] == [entry["entry_id"]]
    # Neither the sellers' staff nor the operator shop's other roles.
    for actor in (staff["sup"], staff["owner"], staff["agent"], staff["mall_sup"]):
        with pytest.raises(Forbidden):
            entries.list_entries(actor, "platform")
    with pytest.raises(Forbidden):
        entries.create_entry(staff["owner"], "platform", new_entry("x"))
    # The shop's own knowledge base does not hold the platform's entries.
    assert entries.list_entries(staff["sup"], None)[0] == []
    with pytest.raises(BadRequest) as raised:
        entries.list_entries(ops, "shop-a")
    assert raised.value.code == "invalid_scope"
    # Audited in the mall operator's trail, naming the scope.
    records, _ = list_audit("mall-hq", target=("kb_entry", entry["entry_id"]))
    assert records[0]["after"]["scope"] == "platform/mall-hq"


def test_the_platform_role_outside_a_mall_operator_and_a_shop_called_platform_reach_nothing(
    staff,
):
    # Role "platform" at a seller (not the operator) manages no mall's entries.
    seller_platform = make_staff("shop-a", "rogue", "platform")
    with pytest.raises(Forbidden):
        entries.list_entries(seller_platform, "platform")
    # A shop whose id happens to be "platform" is an ordinary shop: its own partition only.
    make_shop("platform")
    plain = make_staff("platform", "sup", "supervisor")
    made = entries.create_entry(plain, None, new_entry("自家规则"))
    assert made["scope"] == "platform"
    with pytest.raises(Forbidden):
        entries.list_entries(plain, "platform")
    assert entries.list_entries(staff["platform"], "platform")[0] == []


def test_listing_filters_and_pages_newest_first(staff):
    sup = staff["sup"]
    made = []
    for n in range(7):
        made.append(
            entries.create_entry(
                sup,
                None,
                new_entry(
                    f"问题{n}",
                    f"Similar Q{n}",
                    category="物流" if n % 2 else "售后",
                    tags=["常见"] if n < 3 else [],
                    enabled=n != 6,
                ),
            )["entry_id"]
        )
    newest_first = list(reversed(made))

    page, cursor = entries.list_entries(sup, None, limit=3)
    assert [e["entry_id"] for e in page] == newest_first[:3]
    page2, cursor2 = entries.list_entries(sup, None, limit=3, cursor=cursor)
    page3, cursor3 = entries.list_entries(sup, None, limit=3, cursor=cursor2)
    assert [e["entry_id"] for e in page2 + page3] == newest_first[3:]
    assert cursor3 is None

    def ids(**filters):
        return [e["entry_id"] for e in entries.list_entries(sup, None, **filters)[0]]

    assert ids(category="物流") == [made[5], made[3], made[1]]
    assert ids(tag="常见") == [made[2], made[1], made[0]]
    assert ids(enabled="false") == [made[6]]
    assert ids(text="similar q4") == [made[4]]  # a similar question, case-insensitive
    # A selective filter still fills the page.
    only, more = entries.list_entries(sup, None, category="售后", limit=2)
    assert [e["entry_id"] for e in only] == [made[6], made[4]] and more
    with pytest.raises(BadRequest):
        entries.list_entries(sup, None, enabled="maybe")
    with pytest.raises(BadRequest):
        entries.list_entries(staff["other"], None, cursor=cursor)  # another shop's cursor
