"""Fixed demo data for the local stack (documented in the README; scripts may rely on it).

Shops
  demo     "Demo 小店"     appid wxdemo000000000001   staff: owner (owner), agent1 (agent)
  demo-2   "Demo 二号店"   appid wxdemo000000000002   staff: owner (owner), agent2 (agent)
  demo-mall "Demo 商城"    appid wxdemo000000000003   staff: ops (platform)
  demo and demo-2 sell in the mall demo-mall (its operator: the shop of the same id); ops is
  its platform staff: the mall's platform entries (one, 商城客服热线是多少) and read-only
  oversight of demo and demo-2 (X-Kefu-Shop).
  Every staff password is the local-only Kefu-demo-123.
WeChat (for pushes and logins against the stand-in)
  push token kefu-demo-token, EncodingAESKey DEMO_AES_KEY below, app secret demo-app-secret.
  The stand-in's jscode2session accepts any code; the same code is always the same openid.
Customers and conversations in `demo`
  小明 (WeChat code "xiaoming"): a queued conversation asking where the parcel is
  小红 (WeChat code "xiaohong"): a conversation assigned to agent1, with agent1's reply
  Alice (app user "alice", channel app): a queued conversation with a product card
and in `demo-2`: 小刚 (code "xiaogang") with a queued conversation.
The app-login signing key of both shops is demo-app-login-key.
Shop events (POST /v1/shop-events): both shops sign with demo-shop-events-key. In `demo`, 小明 has
order DEMO-1001 shipped by 顺丰速运 (SF1234567890) with two logistics updates, and 小红 has a
paid order DEMO-1002.
The CRM of both shops (infra/local/demo_crm.py): 120 customers in `demo`, 80 in `demo-2`
(ids crm-…), with profiles, orders, tiers, tags in groups 状态/来源/兴趣/行为, the auto-tag rule
高客单 and the saved segments 高价值未联系30天 and 广东复购客户.
The bot in `demo` (off until an owner turns it on: PUT /v1/bot/settings {"enabled": true}):
a published knowledge base of nine entries (shipping time, returns, return postage, invoices,
sizes, coupons, changing the address, couriers, and one in English), the shop words 运费险 and
顺丰速运 in its dictionary, and two keyword rules: a greeting (exact 你好/您好/在吗/hi/hello,
with the customer's name) and the customer-service hours (contains 营业时间/几点上班/人工几点).
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

PASSWORD = "Kefu-demo-123"
PUSH_TOKEN = "kefu-demo-token"
DEMO_AES_KEY = "kefuDemoEncodingAesKey0123456789abcdefghijk"  # 43 chars, as WeChat issues
APP_SECRET = "demo-app-secret"
APP_LOGIN_KEY = "demo-app-login-key"
SHOP_EVENTS_KEY = "demo-shop-events-key"

# demo and demo-2 sell in the mall "demo-mall", whose operator is the shop of the same id.
MALL = "demo-mall"
SHOPS = [
    {"shop_id": "demo", "name": "Demo 小店", "appid": "wxdemo000000000001", "mall_id": MALL},
    {"shop_id": "demo-2", "name": "Demo 二号店", "appid": "wxdemo000000000002", "mall_id": MALL},
    {"shop_id": MALL, "name": "Demo 商城", "appid": "wxdemo000000000003", "mall_id": MALL},
]
STAFF = [("demo", "owner", "owner"), ("demo", "agent1", "agent"), ("demo-2", "agent2", "agent")]
STAFF += [("demo-2", "owner", "owner")]
STAFF += [(MALL, "ops", "platform")]  # the mall's platform staff
# The mall's platform-wide entries: every shop of the mall answers from them.
MALL_KB = [
    (
        "商城客服热线是多少",
        ["平台客服电话", "商城电话多少"],
        "Demo 商城平台客服热线 400-000-0000（每天 9:00-21:00）。",
    ),
]


def secret_names(stage: str, shop_id: str) -> tuple[str, str]:
    return f"kefu/{stage}/shops/{shop_id}/wechat", f"kefu/{stage}/shops/{shop_id}/app-login"


def shop_events_secret_name(stage: str, shop_id: str) -> str:
    return f"kefu/{stage}/shops/{shop_id}/shop-events"


def load(stack: Any) -> None:
    """Hook for infra.local.stack.LocalStack: runs after provisioning, before traffic."""
    env = stack.env
    seed(env, wechat_url=stack.urls.get("wechat"))


def seed(env: dict[str, str], *, wechat_url: str | None = None) -> None:
    import boto3
    from kefu.auth.staff_tokens import cognito_username
    from kefu.ids import now_ms
    from kefu.storage.shops import ShopProfile, StaffMember

    from infra.local.wechat_standin import WeChatStandIn

    stage = env.get("STAGE", "local")
    secrets = boto3.client("secretsmanager")
    idp = boto3.client("cognito-idp")
    for shop in SHOPS:
        wechat_secret, app_login_secret = secret_names(stage, shop["shop_id"])
        _put_secret(
            secrets,
            wechat_secret,
            json.dumps(
                {"app_secret": APP_SECRET, "token": PUSH_TOKEN, "encoding_aes_key": DEMO_AES_KEY}
            ),
        )
        _put_secret(secrets, app_login_secret, APP_LOGIN_KEY)
        shop_events_secret = shop_events_secret_name(stage, shop["shop_id"])
        _put_secret(secrets, shop_events_secret, SHOP_EVENTS_KEY)
        ShopProfile(
            shop["shop_id"],
            name=shop["name"],
            wechat_appid=shop["appid"],
            wechat_secret_id=wechat_secret,
            # The demo shops have an EncodingAESKey: WeChat pushes reach them in secure mode.
            wechat_push_mode="secure",
            app_login_secret_id=app_login_secret,
            shop_events_secret_id=shop_events_secret,
            created_at=now_ms(),
            mall_id=shop.get("mall_id"),
        ).save()
        if wechat_url:
            _control(wechat_url, "apps", {"appid": shop["appid"], "secret": APP_SECRET})
    for shop_id, username, role in STAFF:
        at = now_ms()
        StaffMember(
            shop_id,
            StaffMember.key(username),
            username=username,
            role=role,
            display_name=username,
            created_at=at,
            updated_at=at,
        ).save()
        name = cognito_username(shop_id, username)
        with contextlib.suppress(idp.exceptions.UsernameExistsException):
            idp.admin_create_user(
                UserPoolId=env["USER_POOL_ID"], Username=name, MessageAction="SUPPRESS"
            )
        idp.admin_set_user_password(
            UserPoolId=env["USER_POOL_ID"], Username=name, Password=PASSWORD, Permanent=True
        )
    _conversations(WeChatStandIn.openid_for)
    _orders(WeChatStandIn.openid_for)
    from infra.local.demo_crm import seed_crm

    crm = seed_crm(WeChatStandIn.openid_for, {s["shop_id"]: s["appid"] for s in SHOPS})
    log.info("demo CRM loaded: %s customers", crm)
    _bot()
    _mall()
    log.info(
        "demo data loaded: shops demo, demo-2 in the mall demo-mall; staff owner, agent1, "
        "agent2, demo-mall's ops (platform); demo's bot"
    )


def _put_secret(client: Any, name: str, value: str) -> None:
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def _control(base_url: str, action: str, payload: dict) -> None:
    req = urllib.request.Request(
        f"{base_url}/__standin__/{action}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def _conversations(openid_for: Any) -> None:
    from kefu.auth.actors import StaffActor
    from kefu.conversations import replies, service
    from kefu.conversations.content import TextMessage
    from kefu.conversations.inbound import InboundMessage, receive_customer_message
    from kefu.customers import APP_USER, WECHAT_OPENID, Identity, resolve_customer
    from kefu.ids import now_ms

    def say(shop_id: str, identity: Identity, channel: str, kind: str, content: dict, key: str):
        ident = resolve_customer(shop_id, identity, display_name=None)
        return receive_customer_message(
            InboundMessage(
                shop_id=shop_id,
                channel=channel,
                identity=ident,
                reply_to=identity.ref,
                type=kind,
                content=content,
                dedupe_key=f"demo:{key}",
                received_at=now_ms(),
            )
        )

    appid = {s["shop_id"]: s["appid"] for s in SHOPS}
    xiaoming = Identity(WECHAT_OPENID, openid_for(appid["demo"], "xiaoming"))
    say("demo", xiaoming, "wechat_miniprogram", "text", {"text": "你好，我的快递到哪了？"}, "xm-1")
    xiaohong = Identity(WECHAT_OPENID, openid_for(appid["demo"], "xiaohong"))
    r = say("demo", xiaohong, "wechat_miniprogram", "text", {"text": "这件衣服有 M 码吗？"}, "xh-1")
    agent1 = StaffActor(shop_id="demo", username="agent1", role="agent")
    service.claim(agent1, r.conversation_id)
    replies.reply(
        agent1, r.conversation_id, TextMessage(text="您好，M 码有货的，今天下单明天发货～")
    )
    alice = Identity(APP_USER, "alice")
    say(
        "demo",
        alice,
        "app",
        "product_card",
        {"product_id": "sku-1001", "title": "纯棉T恤 白色", "price": "79.00"},
        "alice-1",
    )
    xiaogang = Identity(WECHAT_OPENID, openid_for(appid["demo-2"], "xiaogang"))
    say("demo-2", xiaogang, "wechat_miniprogram", "text", {"text": "可以开发票吗？"}, "xg-1")


def _orders(openid_for: Any) -> None:
    """What the demo shop's back end has reported, through the same path as POST /v1/shop-events
    (fixed event ids: loading the demo data again changes nothing)."""
    import msgspec
    from kefu.ids import now_ms
    from kefu.shop_events import ingest
    from kefu.shop_events.payloads import ShopEvent

    appid = {s["shop_id"]: s["appid"] for s in SHOPS}
    xiaoming = {"wechat_openid": openid_for(appid["demo"], "xiaoming")}
    xiaohong = {"wechat_openid": openid_for(appid["demo"], "xiaohong")}
    hour = 3_600_000
    t = now_ms() - 48 * hour
    tee = {"product_id": "sku-1001", "title": "纯棉T恤 白色", "category": "服装"}
    shipped = {"order_id": "DEMO-1001", "amount": "158.00"}
    raw = [
        {
            "event_id": "demo-1001-created",
            "type": "order.created",
            "occurred_at": t,
            "customer": xiaoming,
            "order": {
                **shipped,
                "status": "待付款",
                "items": [{**tee, "quantity": 2, "price": "79.00"}],
                "created_at": t,
            },
        },
        {
            "event_id": "demo-1001-paid",
            "type": "order.paid",
            "occurred_at": t + 60_000,
            "customer": xiaoming,
            "order": {**shipped, "status": "待发货"},
        },
        {
            "event_id": "demo-1001-shipped",
            "type": "order.shipped",
            "occurred_at": t + 20 * hour,
            "customer": xiaoming,
            "order": {**shipped, "status": "已发货"},
            "carrier": "顺丰速运",
            "tracking_number": "SF1234567890",
        },
        {
            "event_id": "demo-1001-logistics-1",
            "type": "logistics.updated",
            "occurred_at": t + 21 * hour,
            "customer": xiaoming,
            "order": {"order_id": "DEMO-1001"},
            "status": "已揽收",
            "description": "顺丰速运 已收取快件",
            "location": "杭州",
            "at": t + 21 * hour,
        },
        {
            "event_id": "demo-1001-logistics-2",
            "type": "logistics.updated",
            "occurred_at": t + 36 * hour,
            "customer": xiaoming,
            "order": {"order_id": "DEMO-1001"},
            "status": "运输中",
            "description": "快件已到达【深圳转运中心】",
            "location": "深圳",
            "at": t + 36 * hour,
        },
        {
            "event_id": "demo-1002-paid",
            "type": "order.paid",
            "occurred_at": t + 40 * hour,
            "customer": xiaohong,
            "order": {
                "order_id": "DEMO-1002",
                "amount": "89.00",
                "status": "待发货",
                "items": [
                    {
                        "product_id": "sku-2001",
                        "title": "雪纺连衣裙 M 码",
                        "category": "服装",
                        "quantity": 1,
                        "price": "89.00",
                    }
                ],
                "created_at": t + 40 * hour - 120_000,
            },
        },
    ]
    events = [msgspec.convert(e, ShopEvent) for e in raw]
    ingest("demo", events)


# The demo shop's own knowledge base: written for this demo (question, similar questions, answer).
DEMO_KB = [
    (
        "什么时候发货",
        ["下单后多久发货", "几天能发出", "今天下单今天能发吗", "多久能发货"],
        "现货商品付款后 48 小时内发货（节假日顺延），预售商品以商品页写明的时间为准。",
    ),
    (
        "支持七天无理由退货吗",
        ["可以退货吗", "不喜欢能退吗", "怎么申请退货", "收到不合适可以退吗"],
        "支持七天无理由退货：在「我的订单」里选中该订单，点「申请售后」即可，"
        "商品需保持完好、不影响二次销售。",
    ),
    (
        "退货运费谁出",
        ["退货要自己付运费吗", "退货邮费谁承担", "运费险怎么理赔"],
        "质量问题的退货运费由我们承担；七天无理由退货的运费由买家承担，买了运费险的可以按运费险理赔。",
    ),
    (
        "可以开发票吗",
        ["怎么开发票", "能开增值税专用发票吗", "发票怎么申请"],
        "可以开电子普通发票或增值税专用发票：在订单详情页点「申请开票」，填写抬头和税号，"
        "开好后发到您的邮箱。",
    ),
    (
        "尺码怎么选",
        ["我该穿什么码", "身高170体重60穿什么码", "衣服偏大还是偏小"],
        "商品页有详细尺码表，一般按平时的尺码选即可；告诉我们您的身高体重，我们也可以帮您推荐～",
    ),
    (
        "有优惠券吗",
        ["怎么领优惠券", "优惠券怎么用", "有没有折扣"],
        "新人可以在首页领取满 99 减 10 的优惠券，下单时在结算页选择优惠券即可使用。",
    ),
    (
        "可以修改收货地址吗",
        ["地址填错了怎么办", "怎么改地址", "收货地址写错了"],
        "发货前可以自己改：在订单详情点「修改地址」；已经发货的请回复「转人工」，我们帮您联系快递改派。",
    ),
    (
        "发什么快递",
        ["默认什么快递", "能发顺丰吗", "可以指定快递吗"],
        "默认发顺丰速运，偏远地区发中通快递，暂不支持指定其他快递。",
    ),
    (
        "What is your return policy?",
        ["Can I return an item?", "How do I send something back?", "Do you accept returns?"],
        "You can return any item within 7 days of delivery: open the order, tap 'After-sales' "
        "and follow the steps. We pay the postage when the item is faulty.",
    ),
]
DEMO_DICTIONARY = ["运费险", "顺丰速运"]
DEMO_RULES = [
    {
        "name": "问候",
        "match_mode": "exact",
        "keywords": ["你好", "您好", "在吗", "hi", "hello"],
        "priority": 10,
        "replies": [
            {
                "type": "text",
                "content": "{customer_name|您}好！我是 Demo 小店的智能客服，"
                "发货、退货、发票、尺码都可以问我；需要人工请回复「转人工」。",
            }
        ],
    },
    {
        "name": "客服时间",
        "match_mode": "contains",
        "keywords": ["营业时间", "几点上班", "人工几点"],
        "replies": [
            {
                "type": "text",
                "content": "人工客服每天 9:00-21:00 在线，"
                "其他时间可以先留言，我们上班后第一时间回复。",
            }
        ],
    },
]


def publish_knowledge_base(
    actor: Any,
    entries: list[tuple[str, list[str], str]],
    *,
    dictionary: list[str] = (),
    scope: str | None = None,
) -> dict[str, str]:
    """(question, similar questions, text answer) entries in the actor's shop (or, with
    scope="platform", their mall's platform entries), its dictionary, published synchronously.
    Returns question -> entry id. (Also the bench's and the tests' way to make a knowledge base.)"""
    import msgspec
    from kefu.knowledge import entries as kb
    from kefu.knowledge import publish

    ids = {}
    for question, similar, answer in entries:
        req = msgspec.convert(
            {
                "question": question,
                "similar_questions": similar,
                "answer": [{"type": "text", "content": answer}],
            },
            kb.NewKbEntry,
        )
        ids[question] = kb.create_entry(actor, scope, req)["entry_id"]
    if dictionary:
        publish.put_dictionary(
            actor, scope, msgspec.convert({"words": list(dictionary)}, publish.KbDictionary)
        )
    publish.publish(actor, scope)
    return ids


def _bot() -> None:
    """demo's knowledge base, dictionary and keyword rules, published (the bot itself stays
    off, so the walkthrough's conversations still go straight to agents)."""
    import msgspec
    from kefu.auth.actors import StaffActor
    from kefu.bot import keyword_rules, keyword_rules_admin

    owner = StaffActor("demo", "owner", "owner")
    for rule in DEMO_RULES:
        keyword_rules_admin.create_rule(owner, msgspec.convert(rule, keyword_rules.NewKeywordRule))
    publish_knowledge_base(owner, DEMO_KB, dictionary=DEMO_DICTIONARY)


def _mall() -> None:
    """demo-mall's platform-wide entries, published by its platform staff (needs the shops'
    profiles: the operator is known by its own mall_id)."""
    from kefu.auth.actors import StaffActor

    publish_knowledge_base(StaffActor(MALL, "ops", "platform"), MALL_KB, scope="platform")
