"""RuntimeTable: short-lived items that expire by TTL (expires_at, epoch seconds).

pk = "DEDUPE#<shop>#<channel>#<key>"    an inbound message already stored (WeChat retries pushes)
pk = "TOKEN#<shop>#wechat"              the shop's WeChat access token, shared by all instances
pk = "SHOPEVENT#<shop>#<event_id>"      an event from the shop's back end already applied
pk = "PUSHNONCE#<shop>#<ts>#<nonce>"    a WeChat push's (timestamp, nonce) already used
pk = "RATE#<shop>#<what>#<who>#<window>" a fixed-window counter (kefu.limits)
pk = "SEEN#<consumer>#<shop>#<event_id>" an event a consumer handled once (kefu.dedupe)
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from kefu.storage.base import KefuModel, table_name


class _RuntimeItem(KefuModel):
    class Meta(KefuModel.Meta):
        abstract = True
        table_name = table_name("RUNTIME_TABLE", "kefu-runtime")

    pk = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute()


class InboundDedupe(_RuntimeItem):
    class Meta(_RuntimeItem.Meta):
        abstract = False

    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    msg_key = UnicodeAttribute()

    @staticmethod
    def key(shop_id: str, channel: str, dedupe_key: str) -> str:
        return f"DEDUPE#{shop_id}#{channel}#{dedupe_key}"


class AccessTokenCache(_RuntimeItem):
    class Meta(_RuntimeItem.Meta):
        abstract = False

    access_token = UnicodeAttribute()
    valid_until = NumberAttribute()  # epoch seconds, a margin before WeChat's expiry

    @staticmethod
    def key(shop_id: str) -> str:
        return f"TOKEN#{shop_id}#wechat"


class ShopEventSeen(_RuntimeItem):
    """Written in the same transaction as the event's effect: a replayed event changes nothing."""

    class Meta(_RuntimeItem.Meta):
        abstract = False

    type = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    received_at = NumberAttribute()

    @staticmethod
    def key(shop_id: str, event_id: str) -> str:
        return f"SHOPEVENT#{shop_id}#{event_id}"


class PushNonce(_RuntimeItem):
    """A WeChat push's signed (timestamp, nonce), written in the same transaction as the message
    it carried: the same pair with another body is a replay (kefu.intake). Lives a little longer
    than the push's timestamp stays acceptable; after that the timestamp check refuses it."""

    class Meta(_RuntimeItem.Meta):
        abstract = False

    digest = UnicodeAttribute()  # sha256 of the authenticated message bytes

    @staticmethod
    def key(shop_id: str, timestamp: int, nonce: str) -> str:
        return f"PUSHNONCE#{shop_id}#{timestamp}#{nonce}"


class RateCounter(_RuntimeItem):
    """One fixed window of one limit (kefu.limits): the window is in the key, so a new window
    starts from nothing and an old one only waits for TTL; no key outlives its window's use."""

    class Meta(_RuntimeItem.Meta):
        abstract = False

    hits = NumberAttribute(null=True)

    @staticmethod
    def key(shop_id: str, what: str, who: str, window_start_s: int) -> str:
        return f"RATE#{shop_id}#{what}#{who}#{window_start_s}"


# A domain event one consumer handled (or is handling): kefu.dedupe.
class EventSeen(_RuntimeItem):
    class Meta(_RuntimeItem.Meta):
        abstract = False

    state = UnicodeAttribute()
    lease_until = NumberAttribute()  # epoch seconds
    # The SQS message that claimed it (kefu.dedupe.once(..., by_message=True)).
    message_id = UnicodeAttribute(null=True)

    @staticmethod
    def key(consumer: str, shop_id: str, event_id: str) -> str:
        return f"SEEN#{consumer}#{shop_id}#{event_id}"
