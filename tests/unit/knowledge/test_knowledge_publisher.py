"""Specification: the knowledge publisher builds the publish that was requested and announces
it; a redelivered or superseded request changes nothing, a concurrent publish that wins is
harmless, and a request that cannot succeed shows its error on the head instead of being retried
for ever."""

import pytest
from kefu import events
from kefu.audit import list_audit
from kefu.knowledge import entries, publish, published, publisher

from tests.unit.knowledge.conftest import change, new_entry


def make(actor, question, *similar, scope=None, **fields):
    return entries.create_entry(actor, scope, new_entry(question, *similar, **fields))["entry_id"]


def requested(kefu_env) -> dict:
    """The latest `knowledge.publish_requested` on the bus."""
    return kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)[-1]


def test_the_requested_draft_is_built_published_audited_and_announced(staff, kefu_env):
    sup = staff["sup"]
    refund = make(sup, "怎么退货", "如何申请退货")
    make(sup, "多久发货")
    publish.request_publish(sup, None)

    out = publisher.handle(requested(kefu_env))

    assert out == {
        "scope": "shop-a",
        "outcome": "published",
        "version": 1,
        "entry_count": 2,
        "draft_revision": 2,
    }
    head = publish.get_head(staff["agent"], None)
    assert (head["publishing"], head["publish_requested"], head["publish_error"]) == (
        False,
        None,
        None,
    )
    assert (head["published_version"], head["published_by"]) == (1, "sup")
    assert head["unpublished_changes"] is False
    index = published.load_index("shop-a", 1, head["index_key"])
    assert index.search("如何申请退货")[0].entry_id == refund

    (announced,) = kefu_env.events(events.KNOWLEDGE_PUBLISHED)
    assert announced["event_id"] == "knowledge.published:shop-a:1"
    assert announced["shop_id"] == "shop-a"
    assert announced["data"]["scope"] == "shop-a"
    assert (announced["data"]["version"], announced["data"]["entry_count"]) == (1, 2)
    records, _ = list_audit("shop-a", target=("kb", "shop-a"))
    assert (records[0]["action"], records[0]["actor"]) == ("knowledge.published", "staff:sup")
    assert records[1]["action"] == "knowledge.publish_requested"


def test_a_redelivered_request_changes_nothing(staff, kefu_env):
    sup = staff["sup"]
    make(sup, "怎么退货")
    publish.request_publish(sup, None)
    event = requested(kefu_env)
    publisher.handle(event)

    assert publisher.handle(event) == {"scope": "shop-a", "outcome": "nothing_pending"}
    listed, _ = publish.list_publishes(sup, None, limit=10, cursor=None)
    assert [p["version"] for p in listed] == [1]
    assert len(kefu_env.events(events.KNOWLEDGE_PUBLISHED)) == 1


def test_a_delivery_that_stopped_after_publishing_is_finished_by_the_next(
    staff, kefu_env, monkeypatch
):
    sup = staff["sup"]
    make(sup, "怎么退货")
    publish.request_publish(sup, None)
    event = requested(kefu_env)

    def bus_down(*events_):
        raise events.PublishFailed("EventBridge rejected 1 event(s)")

    bus_up = events.publish
    monkeypatch.setattr(events, "publish", bus_down)
    with pytest.raises(events.PublishFailed):
        publisher.handle(event)
    head = publish.get_head(sup, None)
    assert (head["published_version"], head["publishing"]) == (1, True)

    monkeypatch.setattr(events, "publish", bus_up)
    out = publisher.handle(event)

    assert (out["outcome"], out["version"]) == ("already_published", 1)
    assert publish.get_head(sup, None)["publishing"] is False
    (announced,) = kefu_env.events(events.KNOWLEDGE_PUBLISHED)
    assert announced["event_id"] == "knowledge.published:shop-a:1"
    listed, _ = publish.list_publishes(sup, None, limit=10, cursor=None)
    assert len(listed) == 1


def test_a_concurrent_publish_that_finishes_first_is_harmless(staff, kefu_env, monkeypatch):
    sup, owner = staff["sup"], staff["owner"]
    make(sup, "怎么退货")
    publish.request_publish(sup, None)
    real = publish.published_entries
    raced = []

    def racing(scope, at):
        if not raced:
            raced.append(None)
            # The owner's publish starts and finishes while the publisher is building.
            raced[0] = publish.publish(owner, None)
        return real(scope, at)

    monkeypatch.setattr(publish, "published_entries", racing)
    out = publisher.handle(requested(kefu_env))

    # The owner's publish covered the request and settled it; this build lost its commit.
    assert out["outcome"] == "nothing_pending"
    head = publish.get_head(sup, None)
    assert (head["published_version"], head["published_by"], head["publishing"]) == (
        1,
        "owner",
        False,
    )
    assert head["index_key"] == raced[0]["publish"]["index_key"]
    listed, _ = publish.list_publishes(sup, None, limit=10, cursor=None)
    assert [p["published_by"] for p in listed] == ["owner"]


def test_a_newer_request_made_during_a_build_stays_pending_for_its_own_event(
    staff, kefu_env, monkeypatch
):
    sup = staff["sup"]
    make(sup, "怎么退货")
    publish.request_publish(sup, None)
    first = requested(kefu_env)
    real = publish.published_entries
    changed = []

    def meanwhile(scope, at):
        if not changed:
            changed.append(make(sup, "多久发货"))
            publish.request_publish(staff["owner"], None)
        return real(scope, at)

    monkeypatch.setattr(publish, "published_entries", meanwhile)
    out = publisher.handle(first)
    # Built from the draft revision read before the entries: the change shows as unpublished.
    assert (out["version"], out["draft_revision"]) == (1, 1)
    head = publish.get_head(sup, None)
    assert (head["publishing"], head["publish_requested"]["draft_revision"]) == (True, 2)
    assert head["unpublished_changes"] is True

    monkeypatch.setattr(publish, "published_entries", real)
    out = publisher.handle(requested(kefu_env))
    assert (out["outcome"], out["version"], out["draft_revision"]) == ("published", 2, 2)
    head = publish.get_head(sup, None)
    assert (head["publishing"], head["unpublished_changes"]) == (False, False)


def test_a_request_that_cannot_succeed_shows_its_error_instead_of_being_retried(staff, kefu_env):
    sup = staff["sup"]
    make(sup, "停用的问题", enabled=False)
    publish.request_publish(sup, None)
    event = requested(kefu_env)

    out = publisher.handle(event)

    assert out == {"scope": "shop-a", "outcome": "failed", "error": "nothing_to_publish"}
    head = publish.get_head(sup, None)
    assert (head["publishing"], head["published_version"]) == (False, 0)
    assert head["publish_error"]["draft_revision"] == 1
    assert "nothing to publish" in head["publish_error"]["message"]
    assert publisher.handle(event)["outcome"] == "nothing_pending"

    # The next request starts clean.
    assert publish.request_publish(sup, None)["knowledge_base"]["publish_error"] is None


def test_an_unexpected_failure_is_retried_and_recorded_on_the_last_attempt(
    staff, kefu_env, monkeypatch
):
    sup = staff["sup"]
    make(sup, "怎么退货")
    publish.request_publish(sup, None)
    event = requested(kefu_env)

    def broken(scope, at):
        raise RuntimeError("DynamoDB is having a bad day")

    monkeypatch.setattr(publish, "published_entries", broken)
    with pytest.raises(RuntimeError):
        publisher.handle(event)
    head = publish.get_head(sup, None)
    assert (head["publishing"], head["publish_error"]) == (True, None)

    with pytest.raises(RuntimeError):
        publisher.handle(event, last_attempt=True)
    head = publish.get_head(sup, None)
    assert head["publishing"] is False
    assert "RuntimeError" in head["publish_error"]["message"]


def test_a_rollback_cancels_a_pending_request(staff, kefu_env):
    sup = staff["sup"]
    eid = make(sup, "怎么退货")
    publish.publish(sup, None)
    entries.update_entry(sup, None, eid, change(1, similar_questions=["能退吗"]))
    publish.request_publish(sup, None)

    restored = publish.restore_publish(sup, None, "1")["knowledge_base"]

    assert (restored["published_version"], restored["publishing"]) == (2, False)
    assert publisher.handle(requested(kefu_env))["outcome"] == "nothing_pending"
    assert publish.get_head(sup, None)["published_version"] == 2


def test_the_platform_scope_is_published_for_the_malls_platform_staff(staff, kefu_env):
    ops = staff["platform"]
    make(ops, "平台包邮规则", scope="platform")
    publish.request_publish(ops, "platform")

    out = publisher.handle(requested(kefu_env))

    assert (out["scope"], out["version"]) == ("platform/mall-hq", 1)
    assert publish.get_head(ops, "platform")["index_key"].startswith("platform/mall-hq/kb/000001-")
    assert publish.get_head(staff["sup"], None)["published_version"] == 0
    (announced,) = kefu_env.events(events.KNOWLEDGE_PUBLISHED)
    assert (announced["shop_id"], announced["data"]["scope"]) == ("mall-hq", "platform/mall-hq")
