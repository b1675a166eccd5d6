"""A customer's rights over their data (PIPL / GDPR): everything kefu holds about them
(GET /v1/customers/{id}/export) and erasure (POST /v1/customers/{id}/erase). Both owner-only
and audited; an export is an unmasked read, on record before it is built.

Erasure removes or anonymises, everywhere kefu keeps something about the person:
- CustomersTable: the identity and lookup items are deleted (the person writing again is a new
  customer); the customer item keeps only its id, the aggregate counts (orders, spend, refunds,
  first and last purchase, created, lifecycle stage, tier) and `erased_at`;
- ConversationsTable / MessagesTable: every message's content is replaced by a redaction marker
  (counts, times and directions stay, so the shop's reports keep adding up); the conversations
  lose their preview, the bot's memory and transcript, the hand-off and the reply address;
- MediaBucket: every object (all versions) under the customer's prefix;
- OrdersTable: orders keep amounts, status and items, and lose tracking numbers, logistics
  details and reasons; browsing and cart activity is deleted;
- TicketsTable: subjects become a marker, descriptions, resolution notes, context and comments
  go;
- BotTable: the bot's unanswered questions from this customer (the learning loop's input) go.
  The published knowledge index holds only staff-written entries (no customer text).
Kept on purpose: the audit trail (append-only; it holds masked values only) and items that
expire on their own within days (de-duplication keys, rate windows, sockets). Each step is
idempotent, and the customer is marked erased last, so an interrupted erasure is finished by
sending it again.
"""

from __future__ import annotations

from typing import Any

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.customers.profiles import PHONE, REAL_NAME, decrypted, load, view
from kefu.errors import Conflict
from kefu.ids import now_ms
from kefu.storage.customers import Customer, CustomerIdentity, CustomerLookup, CustomerName

REDACTED = "[已删除]"
MAX_CONVERSATIONS = 1000
MAX_MESSAGES = 2000  # per conversation, in an export

# Everything on the customer item that is about the person, not an aggregate.
PERSONAL_ATTRIBUTES = (
    "display_name",
    "avatar_url",
    "real_name",
    "phones",
    "addresses",
    "birthday",
    "masked",
    "phone_hashes",
    "real_name_hash",
    "gender",
    "region",
    "source_channel",
    "source_campaign",
    "channels",
    "remarks",
    "notes",
    "contact",
    "owner_agent",
    "attributes",
    "name_key",
    "last_agent",
    "tags",
    "last_seen_at",
    "last_contact_at",
    "open_conversation_id",
)


def _conversations(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.conversations import Conversation

    return list(
        Conversation.by_customer.query(
            Conversation.customer_key(shop_id, customer_id), limit=MAX_CONVERSATIONS
        )
    )


def _messages(shop_id: str, conversation_id: str, limit: int | None = None) -> list[Any]:
    from kefu.storage.messages import Message, conversation_key

    return list(Message.query(conversation_key(shop_id, conversation_id), limit=limit))


def _tickets(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.tickets import Ticket

    return list(Ticket.by_customer.query(Ticket.customer_key(shop_id, customer_id)))


def _ticket_history(shop_id: str, ticket_id: str) -> list[Any]:
    from kefu.storage.tickets import TicketHistory, ticket_sk

    return [
        h
        for h in TicketHistory.query(shop_id, TicketHistory.sk.startswith(ticket_sk(ticket_id)))
        if h.sk != ticket_sk(ticket_id)
    ]


def _orders_and_activity(shop_id: str, customer_id: str) -> list[Any]:
    """Every item in the customer's OrdersTable partition (orders, activity, RECENT)."""
    from kefu.storage.orders import Activity, Order, RecentActivity, customer_key

    models = {"ORDER#": Order, "ACTIVITY#": Activity, "RECENT": RecentActivity}
    out = []
    for raw in Order._get_connection().query(customer_key(shop_id, customer_id)).get("Items", []):
        sk = raw["sk"]["S"]
        model = next((m for prefix, m in models.items() if sk.startswith(prefix)), None)
        if model is not None:
            out.append(model.from_raw_data(raw))
    return out


def _misses(shop_id: str, customer_id: str) -> list[Any]:
    from kefu.storage.bot_learning import MissItem

    since, until = MissItem.window(0)
    return list(
        MissItem.query(
            shop_id,
            MissItem.sk.between(since, until),
            filter_condition=MissItem.customer_id == customer_id,
        )
    )


def _media_versions(shop_id: str, customer_id: str) -> list[dict[str, str]]:
    from kefu.aws import client
    from kefu.config import settings
    from kefu.media import owner_prefix

    s3 = client("s3")
    found: list[dict[str, str]] = []
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=settings().media_bucket, Prefix=owner_prefix(shop_id, f"customers/{customer_id}")
    )
    for page in pages:
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found.append({"Key": v["Key"], "VersionId": v["VersionId"]})
    return found


# ----------------------------------------------------------------------------- export


def export(actor: StaffActor, customer_id: str, *, request_id: str | None = None) -> dict[str, Any]:
    """Everything kefu holds about the customer, personal fields decrypted (on record first)."""
    from kefu.audit import record_access
    from kefu.orders import activity_view, order_view
    from kefu.storage.orders import Activity, Order

    p.require(actor, p.CUSTOMERS_EXPORT)
    shop = actor.shop_id
    customer = load(shop, customer_id)
    record_access(
        actor,
        action="customer.exported",
        target_type="customer",
        target_id=customer_id,
        request_id=request_id,
    )
    conversations = []
    for conv in _conversations(shop, customer_id):
        messages = _messages(shop, conv.conversation_id, MAX_MESSAGES)
        conversations.append(
            {
                **conv.to_public(),
                "messages": [
                    {
                        "message_id": m.message_id,
                        "direction": m.direction,
                        "sender_type": m.sender_type,
                        "type": m.type,
                        "content": m.content.as_dict() if m.content is not None else None,
                        "created_at": m.created_at,
                    }
                    for m in messages
                ],
            }
        )
    items = _orders_and_activity(shop, customer_id)
    return {
        "exported_at": now_ms(),
        "profile": view(customer, plain=decrypted(customer)),
        "identities": list(customer.identities or []),
        "conversations": conversations,
        "orders": [order_view(i) for i in items if isinstance(i, Order)],
        "activity": [activity_view(i) for i in items if isinstance(i, Activity)],
        "tickets": [
            {
                **t.to_public(),
                "history": [
                    {"kind": h.kind, "at": h.at, "field": h.field, "after": h.after, "body": h.body}
                    for h in _ticket_history(shop, t.ticket_id)
                ],
            }
            for t in _tickets(shop, customer_id)
        ],
        "unanswered_questions": [
            {"question": m.question, "at": m.at} for m in _misses(shop, customer_id)
        ],
        "media": [v["Key"] for v in _media_versions(shop, customer_id) if v.get("Key")],
    }


# ----------------------------------------------------------------------------- erasure


def erase(actor: StaffActor, customer_id: str, *, request_id: str | None = None) -> dict[str, Any]:
    p.require(actor, p.CUSTOMERS_ERASE)
    shop = actor.shop_id
    customer = load(shop, customer_id)
    if customer.erased_at:
        return {"customer_id": customer_id, "erased_at": customer.erased_at}
    if _still_open(shop, customer.open_conversation_id):
        raise Conflict(
            "the customer has an open conversation: resolve it first", code="open_conversation"
        )
    counts = {
        "messages": _erase_conversations(shop, customer_id),
        "media_objects": _erase_media(shop, customer_id),
        "tickets": _erase_tickets(shop, customer_id),
        "orders": _erase_orders(shop, customer_id),
        "unanswered_questions": _erase_misses(shop, customer_id),
    }
    at = _erase_profile(actor, customer, counts, request_id)
    _announce(actor, customer_id, at)
    return {"customer_id": customer_id, "erased_at": at, "erased": counts}


def _still_open(shop: str, conversation_id: str | None) -> bool:
    """A conversation someone is working (a resolved one only waits to be closed)."""
    from kefu.storage.conversations import OPEN_STATUSES, Conversation

    if not conversation_id:
        return False
    try:
        return Conversation.get(shop, conversation_id).status in OPEN_STATUSES
    except Conversation.DoesNotExist:
        return False


def _erase_conversations(shop: str, customer_id: str) -> int:
    from kefu.storage.conversations import Conversation
    from kefu.storage.messages import Message

    count = 0
    for conv in _conversations(shop, customer_id):
        for m in _messages(shop, conv.conversation_id):
            if m.content is not None and m.content.as_dict() == {"redacted": REDACTED}:
                continue
            m.update(actions=[Message.content.set({"redacted": REDACTED})])
            count += 1
        conv.update(
            actions=[
                Conversation.last_message_preview.remove(),
                Conversation.bot_state.remove(),
                Conversation.handoff.remove(),
                Conversation.transfer_note.remove(),
                Conversation.reply_to.set("erased"),
            ]
        )
    return count


def _erase_media(shop: str, customer_id: str) -> int:
    from kefu.aws import client
    from kefu.config import settings

    versions = _media_versions(shop, customer_id)
    for start in range(0, len(versions), 1000):
        client("s3").delete_objects(
            Bucket=settings().media_bucket, Delete={"Objects": versions[start : start + 1000]}
        )
    return len(versions)


def _erase_tickets(shop: str, customer_id: str) -> int:
    from kefu.storage.tickets import Ticket, TicketHistory

    tickets = _tickets(shop, customer_id)
    for t in tickets:
        t.update(
            actions=[
                Ticket.subject.set(REDACTED),
                Ticket.description.remove(),
                Ticket.resolution_note.remove(),
                Ticket.context.remove(),
                Ticket.attachments.remove(),
            ]
        )
        for h in _ticket_history(shop, t.ticket_id):
            if h.before is not None or h.after is not None or h.body or h.attachments:
                h.update(
                    actions=[
                        TicketHistory.before.remove(),
                        TicketHistory.after.remove(),
                        TicketHistory.body.remove(),
                        TicketHistory.attachments.remove(),
                    ]
                )
    return len(tickets)


def _erase_orders(shop: str, customer_id: str) -> int:
    from kefu.storage.orders import Order

    count = 0
    for item in _orders_and_activity(shop, customer_id):
        if isinstance(item, Order):
            item.update(
                actions=[
                    Order.tracking_number.remove(),
                    Order.logistics.set([]),
                    Order.reason.remove(),
                ]
            )
            count += 1
        else:
            item.delete()
    return count


def _erase_misses(shop: str, customer_id: str) -> int:
    misses = _misses(shop, customer_id)
    for m in misses:
        m.delete()
    return len(misses)


def _erase_profile(
    actor: StaffActor, customer: Customer, counts: dict[str, int], request_id: str | None
) -> int:
    from kefu.audit import staff_change
    from kefu.storage.tx import write_transaction

    shop, cid = customer.shop_id, customer.customer_id
    at = now_ms()
    # Only those still pointing here: a merged profile's identities now belong to the survivor.
    keys = [
        (shop, CustomerIdentity.key(*str(ref).split(":", 1))) for ref in customer.identities or []
    ]
    identities = (
        [i for i in CustomerIdentity.batch_get(keys) if i.customer_id == cid] if keys else []
    )
    lookups = [
        CustomerLookup(shop, CustomerLookup.key(PHONE, str(d), cid))
        for d in customer.phone_hashes or []
    ]
    if customer.real_name_hash:
        lookups.append(
            CustomerLookup(shop, CustomerLookup.key(REAL_NAME, str(customer.real_name_hash), cid))
        )
    actions = [getattr(Customer, name).remove() for name in PERSONAL_ATTRIBUTES]
    actions += [Customer.identities.set([]), Customer.erased_at.set(at)]
    with write_transaction() as tx:
        tx.update(customer, actions, condition=Customer.erased_at.does_not_exist())
        for item in identities:
            tx.delete(item, condition=CustomerIdentity.customer_id == cid)
        for lookup in lookups:
            tx.delete(lookup)
        if customer.name_key:
            tx.delete(CustomerName(shop, CustomerName.key(str(customer.name_key))))
        tx.save(
            staff_change(
                actor,
                action="customer.erased",
                target_type="customer",
                target_id=cid,
                after={"erased": counts, "identities": len(identities)},
                request_id=request_id,
                at_ms=at,
            )
        )
    return at


def _announce(actor: StaffActor, customer_id: str, at: int) -> None:
    from kefu.events import DomainEvent, publish
    from kefu.events_catalog import CustomerErased

    publish(
        DomainEvent(
            data=CustomerErased(customer_id=customer_id, actor=actor.actor_id),
            shop_id=actor.shop_id,
            event_id=f"customer.erased:{customer_id}",
            occurred_at=at,
        )
    )
