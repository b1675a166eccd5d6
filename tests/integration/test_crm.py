"""Specification, against the local stack (`make dev`'s wiring): the CRM half end to end, on the
demo shop's CRM (infra/local/demo_crm.py).

- the customer list filtered by tag, tier, saved segment, sorted by spend (the segment index);
- a bulk tag job over a saved segment: progress, and the segment's count follows the tags;
- an auto-tag rule firing from an order the shop reports (shop event -> tagging function);
- merge two customers after a preview: conversations, orders and tags (with their history) move;
- erase: the API shows nothing personal left;
- bad input gets a clear 4xx and changes nothing: a 50 MB body, an unknown custom attribute, a
  filter nested 100 deep, a malformed tag rule.

Elsewhere on the same stack (not repeated here): editing a profile, masking and the audited
reveal (test_customers.py); an auto-tag rule firing from a message and a bulk job by ids
(test_tags.py); a tier change re-routing a conversation to the VIP queue (test_tiers.py); the
segment index following the customers stream (test_segments.py).
"""

from __future__ import annotations

import json
import time

import pytest
from kefu.shop_events.signature import sign
from kefu.tags.rules_admin import REVISION_TTL_S

from infra.local import demo_data
from tests.integration.kefu_http import Api, unique, wait_for

pytestmark = pytest.mark.integration


def _ok(resp, status: int = 200) -> dict:
    assert resp.status_code == status, resp.text
    return resp.json()


def _code(resp) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["code"]


def _segment(api: Api, owner: str, name: str) -> dict:
    segments = _ok(api.get("/v1/segments", owner))["segments"]
    return next(s for s in segments if s["name"] == name)


def _tag(api: Api, owner: str, name: str) -> str:
    return _ok(api.post("/v1/tags", owner, json={"name": name}), 201)["tag_id"]


def _shop_event(api: Api, payload: dict) -> None:
    raw = json.dumps({"events": [payload]}, ensure_ascii=False).encode()
    sent = api.post(
        "/v1/shop-events",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Kefu-Shop": "demo",
            "X-Kefu-Signature": sign(demo_data.SHOP_EVENTS_KEY, raw),
        },
    )
    assert sent.status_code == 202, sent.text


def test_the_demo_crm_is_there_and_the_list_filters_over_the_index(api: Api, owner: str):
    """The demo CRM's customers with tiers, tags and the two saved segments, indexed."""
    from infra.local.demo_crm import COUNTS

    def indexed() -> dict | None:
        # The index follows the customers' stream: every customer numbered, and the spend of
        # the last orders applied (the top of the list agrees with the profiles' summaries).
        page = _ok(api.get("/v1/customers", owner, params={"sort": "spend", "limit": 5}))
        spent = [c["purchase_summary"]["total_spent"] for c in page["customers"]]
        settled = spent == sorted(spent, reverse=True) and bool(spent) and spent[0] > 0
        return page if page["count"] >= COUNTS["demo"] and settled else None

    wait_for(indexed, timeout=120, what="the demo CRM indexed, its spend current")
    high = _ok(api.get("/v1/customers", owner, params={"tier": "high_value"}))
    assert all(c["tier"] == "high_value" for c in high["customers"])
    guangdong = _segment(api, owner, "广东复购客户")
    members = _ok(api.get("/v1/customers", owner, params={"segment": guangdong["segment_id"]}))
    assert members["count"] == len(members["customers"])  # a small demo: one page
    for customer in members["customers"]:
        assert customer["lifecycle_stage"] == "repeat"
    assert _segment(api, owner, "高价值未联系30天")["segment_id"]
    tags = {t["name"]: t["tag_id"] for t in _ok(api.get("/v1/tags", owner))["tags"]}
    assert {"已加企微", "小红书", "连衣裙", "高客单"} <= set(tags)

    def tagged() -> dict | None:  # the hand tags reach the index through the stream too
        page = _ok(api.get("/v1/customers", owner, params={"tag": tags["连衣裙"]}))
        return page if page["count"] > 0 else None

    by_tag = wait_for(tagged, timeout=60, what="the demo's 连衣裙 tag indexed")
    assert all(tags["连衣裙"] in c["tags"] for c in by_tag["customers"])


def test_a_bulk_tag_job_over_a_saved_segment_moves_the_segment_count(api: Api, owner: str):
    segment = _segment(api, owner, "广东复购客户")

    def members() -> int | None:  # the index takes in start-up's writes from the stream
        got = _ok(api.get("/v1/customers", owner, params={"segment": segment["segment_id"]}))
        return got["count"] or None

    wait_for(members, timeout=120, what="the demo segment's members indexed")
    tag_id = _tag(api, owner, unique("广东回访"))
    submitted = api.post(
        "/v1/jobs",
        owner,
        json={
            "kind": "tag",
            "selection": {"segment_id": segment["segment_id"]},
            "params": {"tag_ids": [tag_id]},
        },
    )
    job_id = _ok(submitted, 202)["job_id"]

    def finished() -> dict | None:
        got = _ok(api.get(f"/v1/jobs/{job_id}", owner))
        return got if got["status"] == "done" else None

    job = wait_for(finished, timeout=60, what="the job worker to tag the segment")
    # The index may still be taking in start-up's last writes: the job planned what it found.
    size = job["total"]
    assert size >= 1 and (job["done"], job["failed"]) == (size, 0)

    def tagged_count() -> int:
        return _ok(api.get("/v1/customers", owner, params={"tag": tag_id}))["count"]

    wait_for(lambda: tagged_count() == size, timeout=30, what="the index to count the new tag")
    both = {"filter": {"and": [segment["filter"], {"not": {"tag": {"in": [tag_id]}}}]}}
    assert _ok(api.post("/v1/segments/preview", owner, json=both))["count"] == 0


def test_an_auto_tag_rule_fires_from_an_order(api: Api, owner: str):
    tag_id = _tag(api, owner, unique("美妆新客"))
    rule = api.post(
        "/v1/tag-rules",
        owner,
        json={
            "name": "买美妆",
            "trigger": {"kind": "order", "categories": ["美妆"]},
            "tag_ids": [tag_id],
        },
    )
    rule_id = _ok(rule, 201)["rule_id"]
    time.sleep(REVISION_TTL_S)  # a rule change reaches the tagging function within this
    user = unique("crm-order")
    _shop_event(
        api,
        {
            "event_id": unique("evt"),
            "type": "order.paid",
            "occurred_at": int(time.time() * 1000),
            "customer": {"app_user_id": user},
            "order": {
                "order_id": unique("SO"),
                "amount": "268.00",
                "items": [
                    {
                        "product_id": "sku-4001",
                        "title": "保湿精华 30ml",
                        "category": "美妆",
                        "quantity": 1,
                        "price": "268.00",
                    }
                ],
            },
        },
    )

    def tagged() -> dict | None:
        found = _ok(api.get("/v1/customers", owner, params={"tag": tag_id}))["customers"]
        return found[0] if found else None

    customer = wait_for(tagged, timeout=40, what="the tagging function to tag the buyer")
    history = _ok(api.get(f"/v1/customers/{customer['customer_id']}/tags/history", owner))
    assert history["history"][0]["source"] == f"rule:{rule_id}"
    assert customer["purchase_summary"]["orders_count"] == 1


def test_merge_after_a_preview_keeps_tags_with_their_history(api: Api, owner: str):
    wechat = api.customer_login("demo", unique("merge-wx"))
    api.customer_says(wechat["token"], "我在 App 上也有账号")
    app_user = api.customer_login("demo", unique("merge-app2"))
    survivor, merged = wechat["customer_id"], app_user["customer_id"]
    tag_id = _tag(api, owner, unique("双账号"))
    _ok(api.post(f"/v1/customers/{merged}/tags", owner, json={"tag_ids": [tag_id]}))
    _ok(api.patch(f"/v1/customers/{survivor}", owner, json={"region": "广东省/广州市"}))

    preview = _ok(
        api.post(f"/v1/customers/{survivor}/merge/preview", owner, json={"merge_id": merged})
    )
    assert preview["blocked"] is None and preview["moves"]["tags"] == [tag_id]
    assert _ok(api.get(f"/v1/customers/{survivor}", owner))["tags"] == []  # nothing moved yet

    _ok(api.post(f"/v1/customers/{survivor}/merge", owner, json={"merge_id": merged}))
    profile = _ok(api.get(f"/v1/customers/{survivor}", owner))
    assert profile["tags"] == [tag_id] and profile["region"] == "广东省/广州市"
    history = _ok(api.get(f"/v1/customers/{survivor}/tags/history", owner))["history"]
    assert [(h["tag_id"], h["source"]) for h in history] == [(tag_id, "staff:owner")]
    gone = _ok(api.get(f"/v1/customers/{merged}", owner))
    assert gone["merged_into"] == survivor
    merged_history = _ok(api.get(f"/v1/customers/{merged}/tags/history", owner))["history"]
    assert [h["tag_id"] for h in merged_history] == [tag_id]  # the merged one's history stays


def test_erase_leaves_nothing_personal_in_the_api(api: Api, owner: str):
    customer = api.customer_login("demo", unique("erase-me"))
    customer_id = customer["customer_id"]
    _ok(
        api.patch(
            f"/v1/customers/{customer_id}",
            owner,
            json={
                "display_name": "要删除的人",
                "real_name": "赵删除",
                "phones": ["13700001111"],
                "addresses": [{"detail": "深圳市南山区科技园 1 号", "recipient": "赵删除"}],
                "remarks": "常买连衣裙",
            },
        )
    )
    _ok(api.post(f"/v1/customers/{customer_id}/erase", owner))

    profile = api.get(f"/v1/customers/{customer_id}", owner, params={"reveal": "true"})
    body = json.dumps(profile.json(), ensure_ascii=False)
    for personal in ("赵删除", "13700001111", "1111", "科技园", "要删除的人", "常买连衣裙"):
        assert personal not in body, personal
    for q in ("13700001111", "要删除", "赵删除"):
        found = _ok(api.get("/v1/customers", owner, params={"q": q}))["customers"]
        assert customer_id not in [c["customer_id"] for c in found], q
    # What kefu still holds about them (the export: profile, conversations, messages, orders).
    held = json.dumps(
        _ok(api.get(f"/v1/customers/{customer_id}/export", owner)), ensure_ascii=False
    )
    for personal in ("赵删除", "13700001111", "科技园", "要删除的人"):
        assert personal not in held, personal


def test_bad_input_is_a_clear_4xx_and_changes_nothing(api: Api, owner: str):
    jobs_before = _ok(api.get("/v1/jobs", owner))["jobs"]
    segments_before = [s["segment_id"] for s in _ok(api.get("/v1/segments", owner))["segments"]]
    rules_before = _ok(api.get("/v1/tag-rules", owner))["rules"]

    huge = api.post(
        "/v1/jobs",
        owner,
        data=b"{" + b" " * (50 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413, huge.text[:200]

    unknown = api.post(
        "/v1/jobs",
        owner,
        json={
            "kind": "set_attribute",
            "selection": {"all": True},
            "params": {"attribute_id": "no_such_attribute", "value": 1},
        },
    )
    assert _code(unknown) == (400, "unknown_attribute")

    deep: dict = {"tag": {"in": ["x"]}}
    for _ in range(100):
        deep = {"not": deep}
    for path in ("/v1/segments/preview", "/v1/segments"):
        nested = api.post(path, owner, json={"name": "深", "filter": deep})
        assert nested.status_code == 400, nested.text
        assert nested.json()["error"]["code"] == "filter_too_deep"

    malformed = api.post(
        "/v1/tag-rules",
        owner,
        json={"name": "坏规则", "trigger": {"kind": "order", "min_amount": "lots"}, "tag_ids": []},
    )
    assert malformed.status_code == 400, malformed.text

    assert _ok(api.get("/v1/jobs", owner))["jobs"] == jobs_before
    after = [s["segment_id"] for s in _ok(api.get("/v1/segments", owner))["segments"]]
    assert after == segments_before
    assert _ok(api.get("/v1/tag-rules", owner))["rules"] == rules_before
