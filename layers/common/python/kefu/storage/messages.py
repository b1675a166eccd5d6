"""MessagesTable: the messages of each conversation, time-ordered.

pk = conversation_key = "<shop>#<conversation_id>"
sk = msg_key          = "<13-digit ms>#<message_id>"   (cursor pagination is a range on this)
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute

from kefu.storage.base import KefuModel, table_name


def conversation_key(shop_id: str, conversation_id: str) -> str:
    return f"{shop_id}#{conversation_id}"


def message_key(at_ms: int, message_id: str) -> str:
    return f"{at_ms:013d}#{message_id}"


class Message(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("MESSAGES_TABLE", "kefu-messages")

    conversation_key = UnicodeAttribute(hash_key=True, attr_name="pk")
    msg_key = UnicodeAttribute(range_key=True, attr_name="sk")
    shop_id = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    direction = UnicodeAttribute()  # "in" (from the customer) | "out" (to the customer)
    sender_type = UnicodeAttribute()  # customer | agent | bot | system
    sender_id = UnicodeAttribute(null=True)
    type = UnicodeAttribute()  # text | image | voice | product_card | order_card | event
    content = MapAttribute(default=dict)
    channel = UnicodeAttribute()
    channel_message_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    # Outbound only: pending -> sending -> delivered | undeliverable | failed | unknown
    # (unknown: a send to WeChat whose outcome was lost; the agent decides, kefu.outbound)
    delivery_status = UnicodeAttribute(null=True)
    delivery_error = UnicodeAttribute(null=True)
    delivery_attempts = NumberAttribute(null=True)
    delivery_claimed_at = NumberAttribute(null=True)
    delivered_at = NumberAttribute(null=True)
    # Set just before the call to the channel, removed with its recorded outcome: still set on
    # a later claim means that call's outcome is unknown (kefu.outbound).
    delivery_call_at = NumberAttribute(null=True)
