"""Specification: publishing turns the draft into the index the bot searches (in S3, named by the
head), concurrent publishes cannot both win, a rollback republishes an earlier index, and the
bot loads an index once per version and reads only answers it may give."""

import boto3
import pytest
from kefu.audit import list_audit
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound
from kefu.knowledge import entries, publish, published
from kefu.knowledge.publish import KbDictionary
from kefu.storage.tx import write_transaction

from tests.unit.knowledge.conftest import change, new_entry

BUCKET = "kefu-test-knowledge"


def make(actor, question, *similar, scope=None, **fields):
    return entries.create_entry(actor, scope, new_entry(question, *similar, **fields))["entry_id"]


def test_publishing_writes_the_index_to_s3_and_points_the_head_at_it(staff):
    sup = staff["sup"]
    refund = make(sup, "怎么退货", "如何申请退货", "退货流程是什么")
    make(sup, "多久发货", "什么时候发货")

    result = publish.publish(sup, None)
    record, head = result["publish"], result["knowledge_base"]
    assert (record["version"], record["entry_count"], record["draft_revision"]) == (1, 2, 2)
    assert record["index_key"].startswith("shop-a/kb/000001-")
    assert record["index_key"].endswith(".idx")
    assert (head["published_version"], head["index_key"]) == (1, record["index_key"])
    assert (head["unpublished_changes"], head["published_entry_count"]) == (False, 2)
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=record["index_key"])
    assert stored["ContentLength"] == record["size_bytes"]

    index = published.load_index("shop-a", head["published_version"], head["index_key"])
    hits = index.search("退货流程是什么呢")
    assert hits and hits[0].entry_id == refund

    listed, _ = publish.list_publishes(staff["agent"], None, limit=10, cursor=None)
    assert listed == [record]
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert records[0]["action"] == "knowledge.published"
    assert records[0]["after"]["version"] == 1

    entries.update_entry(sup, None, refund, change(1, enabled=False))
    assert publish.get_head(sup, None)["unpublished_changes"] is True


def test_disabled_deleted_and_expired_entries_are_not_published(staff):
    sup = staff["sup"]
    live = make(sup, "怎么退货")
    over = make(sup, "双十一活动", valid_until=1_000)  # long over
    off = make(sup, "停用的问题", enabled=False)
    gone = make(sup, "删除的问题")
    entries.delete_entry(sup, None, gone)
    scheduled = make(sup, "明年的活动", valid_from=9_999_999_999_000)

    record = publish.publish(sup, None)["publish"]
    index = published.load_index("shop-a", record["version"], record["index_key"])
    assert record["entry_count"] == 2 and len(index) == 2
    assert index.search("怎么退货")[0].entry_id == live
    # Not yet valid entries are indexed; the bot checks validity when it answers.
    assert index.search("明年的活动")[0].entry_id == scheduled
    for question in ("双十一活动", "停用的问题", "删除的问题"):
        assert {h.entry_id for h in index.search(question)}.isdisjoint({over, off, gone})


def test_the_shop_dictionary_is_a_draft_change_used_at_publish(staff):
    sup = staff["sup"]
    make(sup, "小蓝瓶怎么用")
    before = publish.get_head(sup, None)["draft_revision"]
    saved = publish.put_dictionary(sup, None, KbDictionary(words=["小蓝瓶", "小蓝瓶", "顺丰包邮"]))
    assert saved["words"] == ["小蓝瓶", "顺丰包邮"]
    assert publish.get_dictionary(staff["agent"], None)["words"] == ["小蓝瓶", "顺丰包邮"]
    assert publish.get_head(sup, None)["draft_revision"] == before + 1
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert records[0]["action"] == "knowledge.dictionary_changed"
    assert records[0]["after"]["added"] == ["小蓝瓶", "顺丰包邮"]
    with pytest.raises(Forbidden):
        publish.put_dictionary(staff["agent"], None, KbDictionary(words=["x"]))

    calls = []
    from kefu.retrieval import KnowledgeIndex

    real_build = KnowledgeIndex.build

    def spy(documents, dictionary=()):
        calls.append(list(dictionary))
        return real_build(documents, dictionary)

    import unittest.mock

    with unittest.mock.patch.object(KnowledgeIndex, "build", side_effect=spy):
        publish.publish(sup, None)
    assert calls == [["小蓝瓶", "顺丰包邮"]]


def test_of_two_concurrent_publishes_one_wins_and_the_other_is_a_409(staff, monkeypatch):
    sup, owner = staff["sup"], staff["owner"]
    make(sup, "怎么退货")
    real = publish.published_entries
    raced = []

    def racing(scope, at):
        if not raced:
            raced.append(None)
            # The owner's publish starts and finishes while the supervisor's is building.
            raced[0] = publish.publish(owner, None)
        return real(scope, at)

    monkeypatch.setattr(publish, "published_entries", racing)
    with pytest.raises(Conflict) as raised:
        publish.publish(sup, None)
    assert raised.value.code == "publish_conflict"
    head = publish.get_head(sup, None)
    assert (head["published_version"], head["published_by"]) == (1, "owner")
    assert head["index_key"] == raced[0]["publish"]["index_key"]
    listed, _ = publish.list_publishes(sup, None, limit=10, cursor=None)
    assert [p["published_by"] for p in listed] == ["owner"]


def test_a_rollback_publishes_an_earlier_index_as_a_new_version(staff):
    sup = staff["sup"]
    first = make(sup, "怎么退货")
    v1 = publish.publish(sup, None)["publish"]
    entries.delete_entry(sup, None, first)
    second = make(sup, "多久发货")
    publish.publish(sup, None)

    result = publish.restore_publish(sup, None, "1")
    record, head = result["publish"], result["knowledge_base"]
    assert (record["version"], record["restored_from"]) == (3, 1)
    assert record["index_key"] == v1["index_key"] == head["index_key"]
    assert head["published_version"] == 3 and head["unpublished_changes"] is True
    index = published.load_index("shop-a", 3, head["index_key"])
    assert index.search("怎么退货")[0].entry_id == first
    assert all(h.entry_id != second for h in index.search("多久发货"))
    with pytest.raises(NotFound):
        publish.restore_publish(sup, None, "9")
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert records[0]["action"] == "knowledge.publish_restored"


def test_agents_cannot_publish_and_platform_publishing_is_for_the_platform(staff):
    with pytest.raises(Forbidden):
        publish.publish(staff["agent"], None)
    with pytest.raises(Forbidden):
        publish.publish(staff["sup"], "platform")
    with pytest.raises(BadRequest):
        publish.publish(staff["sup"], "global")
    ops = staff["platform"]
    make(ops, "平台包邮规则", scope="platform")
    record = publish.publish(ops, "platform")["publish"]
    assert record["index_key"].startswith("platform/mall-hq/kb/000001-")
    assert publish.get_head(staff["sup"], None)["published_version"] == 0


def test_the_bot_loads_an_index_once_per_version(staff, monkeypatch):
    sup = staff["sup"]
    make(sup, "怎么退货")
    v1 = publish.publish(sup, None)["knowledge_base"]
    from kefu import aws

    s3 = aws.client("s3")
    reads = []
    real_get = s3.get_object

    def counting(**kwargs):
        reads.append(kwargs["Key"])
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", counting)
    first = published.load_index("shop-a", v1["published_version"], v1["index_key"])
    again = published.load_index("shop-a", v1["published_version"], v1["index_key"])
    assert first is again and reads == [v1["index_key"]]

    refund2 = make(sup, "运费怎么算")
    v2 = publish.publish(sup, None)["knowledge_base"]
    reloaded = published.load_index("shop-a", v2["published_version"], v2["index_key"])
    assert reads == [v1["index_key"], v2["index_key"]]
    assert reloaded.search("运费怎么算")[0].entry_id == refund2
    assert published.load_index("shop-a", 0, None) is None  # nothing published


def test_the_cache_keeps_a_few_scopes_and_drops_the_oldest(staff, monkeypatch):
    ops = staff["platform"]
    make(ops, "平台规则", scope="platform")
    head = publish.publish(ops, "platform")["knowledge_base"]
    monkeypatch.setattr(published, "MAX_CACHED", 1)
    published.load_index("platform/mall-hq", head["published_version"], head["index_key"])
    make(staff["sup"], "怎么退货")
    shop = publish.publish(staff["sup"], None)["knowledge_base"]
    published.load_index("shop-a", shop["published_version"], shop["index_key"])
    assert list(published._cache) == ["shop-a"]


def test_a_missing_index_object_means_no_index(staff):
    assert published.load_index("shop-a", 7, "shop-a/kb/000007-deadbeef.idx") is None


def test_the_bot_reads_only_entries_it_may_answer_with_now(staff):
    sup = staff["sup"]
    live = make(sup, "怎么退货", answer="七天无理由")
    off = make(sup, "停用", enabled=False)
    later = make(sup, "以后", valid_from=9_999_999_999_000)
    over = make(sup, "过期", valid_until=1_000)
    gone = make(sup, "删除")
    entries.delete_entry(sup, None, gone)
    found = published.entries_by_id("shop-a", [live, off, later, over, gone, live])
    assert list(found) == [live]
    assert found[live]["answer"] == [{"type": "text", "content": "七天无理由"}]
    everything = published.entries_by_id("shop-a", [live, off, gone], usable_only=False)
    assert set(everything) == {live, off, gone}
    assert published.entries_by_id("shop-b", [live]) == {}  # another shop's partition
    assert published.entries_by_id("shop-a", []) == {}


def test_hits_and_feedback_are_counted_in_the_bots_transaction(staff):
    sup = staff["sup"]
    eid = make(sup, "怎么退货")
    with write_transaction() as tx:
        published.add_hit(tx, "shop-a", eid, 1_700_000_000_000)
    with write_transaction() as tx:
        published.add_hit(tx, "shop-a", eid, 1_700_000_000_500)
    with write_transaction() as tx:
        published.add_feedback(tx, "shop-a", eid, False)
    with write_transaction() as tx:
        published.add_feedback(tx, "shop-a", eid, True)
    entry = entries.get_entry(sup, None, eid)
    assert (entry["hits"], entry["last_hit_at"]) == (2, 1_700_000_000_500)
    assert (entry["helpful"], entry["unhelpful"]) == (1, 1)
    assert entry["revision"] == 1  # counters are not edits


def test_publishing_an_empty_knowledge_base_withdraws_every_answer(staff):
    sup = staff["sup"]
    eid = make(sup, "怎么退货")
    publish.publish(sup, None)
    entries.delete_entry(sup, None, eid)
    head = publish.publish(sup, None)["knowledge_base"]
    assert (head["published_version"], head["published_entry_count"]) == (2, 0)
    index = published.load_index("shop-a", 2, head["index_key"])
    assert len(index) == 0 and index.search("怎么退货") == []
