"""InboundMessage.from_shop: intake's one constructor (client API and WeChat push alike)."""

from kefu.conversations.inbound import InboundMessage
from kefu.customers import Identity
from kefu.storage.customers import CustomerIdentity
from kefu.storage.shops import ShopProfile


def test_the_reply_address_is_the_sender_and_queue_and_bot_are_the_shops():
    shop = ShopProfile("shop-a", default_queue="presale", bot_enabled=True)
    identity = CustomerIdentity(
        "shop-a", CustomerIdentity.key("app_user", "u-1"), customer_id="cu1"
    )
    msg = InboundMessage.from_shop(
        shop,
        channel="app",
        identity=identity,
        sender=Identity("app_user", "u-1"),
        kind="text",
        content={"text": "hi"},
        dedupe_key="client:cu1:1",
        received_at=1,
    )
    assert (msg.shop_id, msg.reply_to, msg.type) == ("shop-a", "app_user:u-1", "text")
    assert (msg.default_queue, msg.bot, msg.identity) == ("presale", True, identity)
    assert msg.replay_guard is None and msg.channel_message_id is None


def test_a_shop_without_the_bot_opens_in_its_queue():
    shop = ShopProfile("shop-b", default_queue="default")
    msg = InboundMessage.from_shop(
        shop,
        channel="wechat_miniprogram",
        identity=None,  # type: ignore[arg-type]  # not read by the constructor
        sender=Identity("wechat_openid", "o-1"),
        kind="text",
        content={"text": "hi"},
        dedupe_key="k",
        received_at=1,
        channel_message_id="m1",
    )
    assert (msg.bot, msg.reply_to, msg.channel_message_id) == (False, "wechat_openid:o-1", "m1")
