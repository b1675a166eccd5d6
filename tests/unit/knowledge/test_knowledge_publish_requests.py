"""Specification: over HTTP a publish is requested, not built — the request is checked, recorded
on the head, audited and announced as `knowledge.publish_requested`, and answered at once;
asking again for the same draft changes nothing."""

import boto3
import pytest
from kefu import events
from kefu.audit import list_audit
from kefu.errors import BadRequest, Conflict, Forbidden, UpstreamUnavailable
from kefu.knowledge import entries, publish

from tests.unit.knowledge.conftest import change, new_entry

BUCKET = "kefu-test-knowledge"


def make(actor, question, *similar, scope=None, **fields):
    return entries.create_entry(actor, scope, new_entry(question, *similar, **fields))["entry_id"]


def requests_audited(shop_id="shop-a"):
    records, _ = list_audit(shop_id, limit=100)
    return [r for r in records if r["action"] == "knowledge.publish_requested"]


@pytest.fixture
def no_build(monkeypatch):
    """A request must never build: building is the knowledge publisher's job."""
    from kefu.retrieval import KnowledgeIndex

    def refuse(*args, **kwargs):
        raise AssertionError("the request built the index")

    monkeypatch.setattr(KnowledgeIndex, "build", refuse)


def test_a_request_is_recorded_audited_announced_and_answered_without_building(
    staff, kefu_env, no_build
):
    sup = staff["sup"]
    make(sup, "怎么退货", "如何退货")
    make(sup, "多久发货")

    answer = publish.request_publish(sup, None)

    assert answer["status"] == "publishing"
    assert (answer["scope"], answer["draft_revision"]) == ("shop-a", 2)
    kb = answer["knowledge_base"]
    assert kb["publishing"] is True and kb["published_version"] == 0
    assert kb["publish_requested"]["draft_revision"] == 2
    assert kb["publish_requested"]["requested_by"] == "sup"
    assert kb["publish_error"] is None
    assert publish.get_head(staff["agent"], None) == kb
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0

    (audited,) = requests_audited()
    assert (audited["actor"], audited["target_id"]) == ("staff:sup", "shop-a")
    assert audited["after"] == {"scope": "shop-a", "draft_revision": 2}
    (event,) = kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)
    assert event["shop_id"] == "shop-a"
    assert event["data"] == {
        "scope": "shop-a",
        "draft_revision": 2,
        "requested_by": "sup",
        "requested_by_role": "supervisor",
    }
    assert event["occurred_at"] == kb["publish_requested"]["requested_at"]


def test_asking_again_for_the_same_draft_changes_nothing_and_gets_the_same_answer(
    staff, kefu_env, no_build
):
    sup = staff["sup"]
    eid = make(sup, "怎么退货")
    first = publish.request_publish(sup, None)
    again = publish.request_publish(staff["owner"], None)
    assert again == first
    assert len(requests_audited()) == 1
    assert len(kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)) == 1

    # A draft change since is a new request, for the new draft revision.
    entries.update_entry(sup, None, eid, change(1, similar_questions=["如何退货"]))
    newer = publish.request_publish(staff["owner"], None)
    assert newer["draft_revision"] == 2
    assert newer["knowledge_base"]["publish_requested"]["requested_by"] == "owner"
    announced = kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)
    assert [e["data"]["draft_revision"] for e in announced] == [1, 2]


def test_a_request_pending_too_long_is_replaced_rather_than_waited_for(
    staff, kefu_env, monkeypatch, no_build
):
    sup = staff["sup"]
    make(sup, "怎么退货")
    first = publish.request_publish(sup, None)["knowledge_base"]["publish_requested"]
    later = first["requested_at"] + publish.REQUEST_STALE_MS + 1
    monkeypatch.setattr(publish, "now_ms", lambda: later)

    again = publish.request_publish(sup, None)["knowledge_base"]["publish_requested"]

    assert again == {**first, "requested_at": later}
    assert len(requests_audited()) == 2
    assert len(kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)) == 2


def test_a_draft_that_is_already_published_needs_no_request(staff, kefu_env):
    sup = staff["sup"]
    make(sup, "怎么退货")
    publish.publish(sup, None)

    answer = publish.request_publish(sup, None)

    assert (answer["status"], answer["knowledge_base"]["published_version"]) == ("published", 1)
    assert answer["knowledge_base"]["publishing"] is False
    assert kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED) == []
    assert requests_audited() == []


def test_an_empty_knowledge_base_has_nothing_to_publish(staff, kefu_env):
    with pytest.raises(Conflict) as raised:
        publish.request_publish(staff["sup"], None)
    assert raised.value.code == "nothing_to_publish"
    assert kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED) == []


def test_only_managers_request_and_platform_publishing_is_for_the_platform(
    staff, kefu_env, no_build
):
    make(staff["sup"], "怎么退货")
    with pytest.raises(Forbidden):
        publish.request_publish(staff["agent"], None)
    with pytest.raises(Forbidden):
        publish.request_publish(staff["sup"], "platform")
    with pytest.raises(BadRequest):
        publish.request_publish(staff["sup"], "global")
    assert kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED) == []

    ops = staff["platform"]
    make(ops, "平台包邮规则", scope="platform")
    answer = publish.request_publish(ops, "platform")
    assert (answer["scope"], answer["status"]) == ("platform/mall-hq", "publishing")
    (event,) = kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)
    assert (event["shop_id"], event["data"]["scope"]) == ("mall-hq", "platform/mall-hq")
    assert publish.get_head(staff["sup"], None)["publishing"] is False


def test_a_request_that_cannot_be_announced_is_withdrawn_so_asking_again_works(
    staff, kefu_env, monkeypatch, no_build
):
    sup = staff["sup"]
    make(sup, "怎么退货")

    def bus_down(*events_):
        raise events.PublishFailed("EventBridge rejected 1 event(s)")

    bus_up = events.publish
    monkeypatch.setattr(events, "publish", bus_down)
    with pytest.raises(UpstreamUnavailable) as raised:
        publish.request_publish(sup, None)
    assert raised.value.code == "publish_failed"
    assert publish.get_head(sup, None)["publishing"] is False

    monkeypatch.setattr(events, "publish", bus_up)
    assert publish.request_publish(sup, None)["status"] == "publishing"
    assert len(kefu_env.events(events.KNOWLEDGE_PUBLISH_REQUESTED)) == 1
