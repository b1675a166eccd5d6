"""GET /v1/workbench/conversations/{id}: a conversation with everything the agent needs beside
it, in at most six DynamoDB requests, none of them a Scan:

  1  BatchGetItem   the caller's staff record (auth) + the shop's profile (its status) + the
                    conversation                                                (all by key)
  then, concurrently, once the conversation names its customer:
  2  Query          the latest page of messages                                 (table key)
  3  BatchGetItem   the customer profile + their latest browsing and cart activity
                    (OrdersTable's RECENT item, kept by kefu.shop_events)      (both by key)
  4  Query          recent orders with their whole logistics trail (kefu.orders, OrdersTable)
  5  Query          open tickets                          (kefu.tickets, TicketsTable by_customer)
  6  Query          previous conversations                (ConversationsTable by_customer, 6 items)

Reading the staff record in the same request as the conversation is why this call does not use
the usual `staff_actor` (a GetItem of its own): the token is verified offline first, and the
role is still read on every request, so a role change takes effect at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.auth.staff_tokens import staff_actor_for
from kefu.conversations.messages import list_messages
from kefu.conversations.views import message_view
from kefu.errors import Forbidden, NotFound
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.orders import RECENT, RecentActivity, customer_key
from kefu.storage.shops import PROFILE, ShopProfile, StaffMember
from kefu.storage.tx import get_together as _batch_get
from kefu.workbench import common

MESSAGES_PAGE = 30
ORDERS = 5
TICKETS = 5
PREVIOUS = 5


@cache
def _executor() -> ThreadPoolExecutor:
    # Kept for the life of the instance; five reads in flight at once.
    return ThreadPoolExecutor(max_workers=5, thread_name_prefix="wb-context")


def authorize(
    shop_id: str, username: str, conversation_id: str, actor: StaffActor | None = None
) -> tuple[StaffActor, Conversation]:
    """Request 1: the staff record, the shop's profile (its status: a suspended shop's staff are
    refused) and the conversation together; then the usual checks. An `actor` already resolved
    (platform staff on another shop, their own shop checked then) skips the staff record."""
    if actor is not None:
        got = _batch_get([(Conversation, actor.shop_id, conversation_id)])
    else:
        got = _batch_get(
            [
                (StaffMember, shop_id, StaffMember.key(username)),
                (ShopProfile, shop_id, PROFILE),
                (Conversation, shop_id, conversation_id),
            ]
        )
        actor = staff_actor_for(
            shop_id,
            username,
            got[StaffMember],  # type: ignore[arg-type]
            shop=got[ShopProfile],
        )
    p.require(actor, p.CONVERSATIONS_READ)
    conv = got[Conversation]
    if conv is None:
        raise NotFound(f"no conversation {conversation_id!r}", code="conversation_not_found")
    assert isinstance(conv, Conversation)
    if not common.visible(actor, conv):
        raise Forbidden("conversation is assigned to another agent", code="not_your_conversation")
    return actor, conv


def _customer(shop_id: str, customer_id: str) -> tuple[Customer | None, RecentActivity | None]:
    got = _batch_get(
        [
            (Customer, shop_id, Customer.key(customer_id)),
            (RecentActivity, customer_key(shop_id, customer_id), RECENT),
        ]
    )
    customer, recent = got[Customer], got[RecentActivity]
    assert customer is None or isinstance(customer, Customer)
    assert recent is None or isinstance(recent, RecentActivity)
    return customer, recent


def _previous(shop_id: str, conv: Conversation) -> list[Conversation]:
    items = Conversation.by_customer.query(
        Conversation.customer_key(shop_id, conv.customer_id),
        scan_index_forward=False,
        limit=PREVIOUS + 1,
    )
    return [c for c in items if c.conversation_id != conv.conversation_id][:PREVIOUS]


def conversation_context(
    shop_id: str, username: str, conversation_id: str, actor: StaffActor | None = None
) -> dict:
    actor, conv = authorize(shop_id, username, conversation_id, actor)
    shop, customer_id = actor.shop_id, conv.customer_id
    pool = _executor()
    messages = pool.submit(list_messages, shop, conv.conversation_id, limit=MESSAGES_PAGE)
    customer = pool.submit(_customer, shop, customer_id)
    orders = pool.submit(common.recent_orders, shop, customer_id, ORDERS)
    tickets = pool.submit(common.open_tickets, shop, customer_id, TICKETS)
    previous = pool.submit(_previous, shop, conv)
    page, has_more = messages.result()
    profile, recent = customer.result()
    return {
        "conversation": conv.to_public(),
        # Why the bot handed this conversation over, with its transcript (docs/bot.md).
        "handoff": conv.handoff,
        "messages": {
            "messages": [message_view(m) for m in page],
            # As GET /v1/conversations/{id}/messages: poll ?after=next_cursor, page back with
            # ?before=<the first message's cursor>.
            "next_cursor": page[-1].msg_key if page else None,
            "has_more": has_more,
        },
        "customer": common.customer_profile(actor, profile),
        # Browsing and cart activity (kefu.orders), newest first.
        "recent_activity": common.activity(recent),
        # Each with its whole logistics trail, newest first, and the latest update on its own.
        "orders": orders.result(),
        "open_tickets": tickets.result(),
        "previous_conversations": [common.summary(actor, c) for c in previous.result()],
    }
