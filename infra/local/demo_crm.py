"""The demo shops' CRM (documented in the README): a small believable customer base, written
through kefu's own code paths so that what `make dev` shows is what kefu would have computed.

- `demo` 120 customers, `demo-2` 80 with KEFU_DEMO_CRM=full, 12 and 8 by default (WeChat and
  app users, fixed ids crm-<shop>-<n>), with nicknames, and through
  `kefu.customers.profiles.update_profile` (so encrypted with the KMS data key, masked, found
  by phone hash): real names for most, phones for about half, regions, gender, source channel.
- Orders through `kefu.shop_events.ingest` (the POST /v1/shop-events path): 0–7 paid orders each
  over the last 400 days, a few refunds, so purchase summaries and lifecycle stages are real; the
  tiers function (RFM tiers, points) and the tagging function consume the same events on the
  stack, so tiers and auto-tags appear within seconds of start-up.
- Tag groups 状态 / 来源 / 兴趣 / 行为 with tags; hand tags through `kefu.tags.assign.add_tags`
  (history: staff:owner); the auto-tag rule 高客单 (an order of ¥500 or more → 行为/高客单).
- Saved segments 高价值未联系30天 and 广东复购客户.
- Last contact: a shop that has been running has customers last seen weeks ago: `last_contact_at`
  is set to a past day (the only value written directly; kefu itself sets it when a conversation
  opens).

Fixed ids and event ids, deterministic (random.Random(shop)): loading it again changes nothing.
Writes run on a few threads (each a handful of requests to moto) to keep `make dev` quick.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# How many customers each shop gets. The full demo (120 + 80) is KEFU_DEMO_CRM=full; by default a
# tenth of it, because on the shared 2-core machine the full one made the local stack's start-up
# take ~10 minutes (every profile edit, order and tag goes through kefu's own transactions and
# the stack's consumers process the same events meanwhile). See the README's figures.
FULL = {"demo": 120, "demo-2": 80}
SMALL = {"demo": 12, "demo-2": 8}
COUNTS = FULL if os.environ.get("KEFU_DEMO_CRM") == "full" else SMALL
DAY = 86_400_000
THREADS = 6

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "婷", "雪", "慧", "晨"]
NICKNAMES = [
    "小鹿乱撞", "Cici", "柠檬不酸", "阿杰", "momo", "晴天", "小太阳", "Kevin", "奶茶续命",
    "一颗橙子", "Luna", "大白", "糖糖", "风一样的男子", "Yuki", "木子", "豆豆妈", "浅浅",
    "Tony", "安安", "喵小姐", "Jason", "七七", "阿May",
]  # fmt: skip
REGIONS = [
    ("广东省/深圳市", 5), ("广东省/广州市", 4), ("广东省/佛山市", 2), ("浙江省/杭州市", 3),
    ("上海市/上海市", 3), ("北京市/北京市", 2), ("江苏省/南京市", 2), ("四川省/成都市", 2),
    ("湖北省/武汉市", 1), ("福建省/厦门市", 1),
]  # fmt: skip
SOURCES = ["公众号", "小红书", "抖音直播", "老客推荐"]
PRODUCTS = [
    ("sku-1001", "纯棉T恤 白色", "服装", "79.00"),
    ("sku-2001", "雪纺连衣裙", "服装", "189.00"),
    ("sku-3001", "通勤托特包", "鞋包", "329.00"),
    ("sku-3002", "软底小白鞋", "鞋包", "259.00"),
    ("sku-4001", "保湿精华 30ml", "美妆", "268.00"),
    ("sku-5001", "香薰蜡烛礼盒", "家居", "129.00"),
    ("sku-6001", "羊绒大衣", "服装", "899.00"),
]
GROUPS: dict[str, list[tuple[str, str]]] = {
    "状态": [("已加企微", "#07C160"), ("待回访", "#FA9D3B")],
    "来源": [(s, "#576B95") for s in SOURCES],
    "兴趣": [("连衣裙", "#E64340"), ("护肤", "#F5A0C4"), ("通勤", "#6467F0")],
    "行为": [("高客单", "#FF6A00"), ("爱咨询", "#10AEFF")],
}


def _weighted_region(rng: random.Random) -> str:
    return rng.choices([r for r, _ in REGIONS], [w for _, w in REGIONS])[0]


def plan(shop_id: str, count: int, now: int) -> list[dict[str, Any]]:
    """The shop's customers as data: who they are, what they bought, when last seen."""
    rng = random.Random(shop_id)
    people = []
    for n in range(count):
        # A few big spenders, many one-off buyers, some who never bought.
        kind = rng.choices(["vip", "regular", "once", "browser"], [12, 38, 30, 20])[0]
        orders_n = {"vip": rng.randint(4, 7), "regular": rng.randint(2, 4), "once": 1}.get(kind, 0)
        recent = kind == "vip" and rng.random() < 0.8
        orders = []
        for k in range(orders_n):
            days_ago = rng.randint(1, 60) if recent else rng.randint(1, 400)
            items = rng.sample(PRODUCTS, rng.randint(1, 2 if kind != "vip" else 3))
            orders.append(
                {"k": k, "at": now - days_ago * DAY - rng.randint(0, DAY), "items": items}
            )
        contact_days = rng.choice([rng.randint(31, 120), rng.randint(0, 29)])
        people.append(
            {
                "n": n,
                "wechat": n % 3 != 0,
                "nickname": f"{rng.choice(NICKNAMES)}{n:03d}",
                "real_name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2)))
                if rng.random() < 0.8
                else None,
                "phone": f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
                if rng.random() < 0.5
                else None,
                "gender": rng.choice(["female", "female", "male", "unknown"]),
                "region": _weighted_region(rng),
                "source": rng.choice(SOURCES),
                "orders": orders,
                "refund": bool(orders) and rng.random() < 0.08,
                "last_contact_at": now - contact_days * DAY,
                "interest": rng.choice([None, "连衣裙", "护肤", "通勤"]),
                "state": rng.choice([None, None, "已加企微", "待回访"]),
                "chatty": rng.random() < 0.15,
            }
        )
    return people


def seed_crm(openid_for: Any, appids: dict[str, str]) -> dict[str, int]:
    """Both demo shops' CRM; returns what it wrote."""
    from kefu.ids import now_ms

    now = now_ms()
    done: dict[str, int] = {}
    for shop_id, count in COUNTS.items():
        people = plan(shop_id, count, now)
        tags = _catalog(shop_id)
        with ThreadPoolExecutor(THREADS) as pool:
            ids = list(
                pool.map(lambda p, s=shop_id: _customer(s, p, openid_for, appids[s]), people)
            )
            _orders(shop_id, people, ids, openid_for, appids[shop_id])
            pairs = zip(people, ids, strict=True)
            list(pool.map(lambda pc, s=shop_id, t=tags: _hand_tags(s, pc[0], pc[1], t), pairs))
        _segments(shop_id)
        done[shop_id] = len(ids)
    return done


def _owner(shop_id: str) -> Any:
    from kefu.auth.actors import StaffActor

    return StaffActor(shop_id, "owner", "owner")


def _catalog(shop_id: str) -> dict[str, str]:
    """The tag groups and tags (name -> tag id) and the auto-tag rule 高客单."""
    import msgspec
    from kefu.tags import catalog, rules_admin
    from kefu.tags.rules import NewAutoTagRule

    owner = _owner(shop_id)
    existing = {t.name: t.tag_id for t in catalog.all_tags(shop_id)}
    if existing:  # loaded before (a restarted stack keeps nothing, but scripts may re-run)
        return existing
    tags: dict[str, str] = {}
    for position, (group, members) in enumerate(GROUPS.items()):
        made = catalog.create_group(owner, catalog.NewTagGroup(name=group, position=position))
        for name, colour in members:
            req = catalog.NewTag(name=name, group_id=made["group_id"], colour=colour)
            tags[name] = catalog.create_tag(owner, req)["tag_id"]
    rule = {
        "name": "高客单",
        "trigger": {"kind": "order", "min_amount": "500.00"},
        "tag_ids": [tags["高客单"]],
    }
    rules_admin.create_rule(owner, msgspec.convert(rule, NewAutoTagRule))
    return tags


def _identity(shop_id: str, person: dict[str, Any], openid_for: Any, appid: str) -> Any:
    from kefu.customers import APP_USER, WECHAT_OPENID, Identity

    if person["wechat"]:
        return Identity(WECHAT_OPENID, openid_for(appid, f"crm-{person['n']:03d}"))
    return Identity(APP_USER, f"crm-{shop_id}-{person['n']:03d}")


def _customer(shop_id: str, person: dict[str, Any], openid_for: Any, appid: str) -> str:
    import msgspec
    from kefu.customers import profiles, resolve_customer
    from kefu.customers.fields import ProfileChange
    from kefu.errors import Conflict
    from kefu.storage.customers import Customer

    identity = _identity(shop_id, person, openid_for, appid)
    customer_id = resolve_customer(shop_id, identity, display_name=person["nickname"]).customer_id
    change: dict[str, Any] = {
        "gender": person["gender"],
        "region": person["region"],
        "source_channel": person["source"],
    }
    if person["real_name"]:
        change["real_name"] = person["real_name"]
    if person["phone"]:
        change["phones"] = [person["phone"]]
    edit = msgspec.convert(change, ProfileChange)
    for attempt in range(3):  # the stream consumers write the item meanwhile (its number)
        try:
            profiles.update_profile(_owner(shop_id), customer_id, edit)
            break
        except Conflict:
            if attempt == 2:
                raise
    Customer(shop_id, Customer.key(customer_id)).update(
        actions=[Customer.last_contact_at.set(person["last_contact_at"])]
    )
    return customer_id


def _orders(
    shop_id: str, people: list[dict[str, Any]], ids: list[str], openid_for: Any, appid: str
) -> None:
    """Every paid order (and the refunds) as the shop's back end reports them, oldest first."""
    import msgspec
    from kefu.shop_events import ingest
    from kefu.shop_events.payloads import ShopEvent

    raw = []
    for person in people:
        who = (
            {"wechat_openid": openid_for(appid, f"crm-{person['n']:03d}")}
            if person["wechat"]
            else {"app_user_id": f"crm-{shop_id}-{person['n']:03d}"}
        )
        for order in person["orders"]:
            order_id = f"CRM-{shop_id}-{person['n']:03d}-{order['k']}"
            items = [
                {"product_id": p, "title": t, "category": c, "quantity": 1, "price": price}
                for p, t, c, price in order["items"]
            ]
            amount = f"{sum(float(i['price']) for i in items):.2f}"
            raw.append(
                {
                    "event_id": f"{order_id}-paid",
                    "type": "order.paid",
                    "occurred_at": order["at"],
                    "customer": who,
                    "order": {
                        "order_id": order_id,
                        "amount": amount,
                        "status": "已完成",
                        "items": items,
                        "created_at": order["at"] - 120_000,
                    },
                }
            )
        if person["refund"]:
            first = person["orders"][0]
            order_id = f"CRM-{shop_id}-{person['n']:03d}-{first['k']}"
            raw.append(
                {
                    "event_id": f"{order_id}-refund",
                    "type": "refund.approved",
                    "occurred_at": first["at"] + 3 * DAY,
                    "customer": who,
                    "order": {"order_id": order_id},
                    "refund_amount": first["items"][0][3],
                }
            )
    raw.sort(key=lambda e: e["occurred_at"])
    events = [msgspec.convert(e, ShopEvent) for e in raw]
    for start in range(0, len(events), 100):
        ingest(shop_id, events[start : start + 100])


def _hand_tags(
    shop_id: str, person: dict[str, Any], customer_id: str, tags: dict[str, str]
) -> None:
    from kefu.tags.assign import add_tags

    chosen = [person["source"]] if person["n"] % 2 == 0 else []
    chosen += [name for name in (person["interest"], person["state"]) if name]
    if person["chatty"]:
        chosen.append("爱咨询")
    if chosen:
        add_tags(shop_id, customer_id, [tags[name] for name in chosen], "staff:owner")


def _segments(shop_id: str) -> None:
    import msgspec
    from kefu.segments import admin
    from kefu.segments.filters import Filter

    owner = _owner(shop_id)
    if admin.list_segments(owner)["segments"]:
        return
    saved = {
        "高价值未联系30天": {
            "and": [
                {"tier": {"in": ["high_value"]}},
                {"last_contact": {"more_than_days": 30}},
            ]
        },
        "广东复购客户": {
            "and": [{"region": {"in": ["广东省"]}}, {"lifecycle_stage": {"in": ["repeat"]}}]
        },
    }
    for name, definition in saved.items():
        admin.create_segment(
            owner, admin.NewSegment(name=name, filter=msgspec.convert(definition, Filter))
        )
