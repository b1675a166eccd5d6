"""ConnectionsTable: one item per open WebSocket connection (API Gateway WebSocket API).

pk = connection_id (API Gateway's id; a connection is never looked up by anything else first)
GSI by_subscriber  subscriber  = "<shop>#staff:<username>" | "<shop>#customer:<customer_id>"
                                 -> every socket of one person (fan-out of a notification)
GSI staff_online   shop_staff  = "<shop>#staff" (staff connections only: sparse)
                                 -> every agent online in a shop (fallback fan-out, supervisors)
TTL expires_at: API Gateway closes a connection after 2 hours at most; an item whose
$disconnect never ran (a crashed instance) expires shortly after.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from kefu.storage.base import KefuModel, table_name

MAX_CONNECTION_SECONDS = 2 * 3600
TTL_MARGIN_SECONDS = 600


def staff_subscriber(shop_id: str, username: str) -> str:
    return f"{shop_id}#staff:{username}"


def customer_subscriber(shop_id: str, customer_id: str) -> str:
    return f"{shop_id}#customer:{customer_id}"


def staff_online_key(shop_id: str) -> str:
    """staff_online's partition key (shop_staff), on staff connections only."""
    return f"{shop_id}#staff"


class _BySubscriber(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_subscriber"
        projection = KeysOnlyProjection()

    subscriber = UnicodeAttribute(hash_key=True)


class _StaffOnline(GlobalSecondaryIndex):
    class Meta:
        index_name = "staff_online"
        projection = AllProjection()

    shop_staff = UnicodeAttribute(hash_key=True)


class Connection(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("CONNECTIONS_TABLE", "kefu-connections")

    connection_id = UnicodeAttribute(hash_key=True)
    shop_id = UnicodeAttribute()
    subscriber = UnicodeAttribute()
    shop_staff = UnicodeAttribute(null=True)  # only on staff connections
    kind = UnicodeAttribute()  # staff | customer
    principal = UnicodeAttribute()  # username | customer_id
    role = UnicodeAttribute(null=True)  # staff role when connected
    channel = UnicodeAttribute(null=True)  # customer channel
    connected_at = NumberAttribute()  # ms
    expires_at = NumberAttribute()  # epoch seconds (TTL)

    by_subscriber = _BySubscriber()
    staff_online = _StaffOnline()
