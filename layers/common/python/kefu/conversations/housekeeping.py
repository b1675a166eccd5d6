"""Resolved conversations close after a quiet period (RESOLVED_CLOSE_AFTER_HOURS): the
customer's next message then starts a new conversation instead of reopening the old one.

A conversation still with the bot (status "bot": the bot answered and the customer went quiet)
closes after the same quiet period: nobody has to resolve what no person took.

Runs on a schedule. It reads the shop registry and, per shop, one index range per status
(resolved, bot) older than the cut-off: cost follows the work to do, not the table size.
"""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu import events_catalog as contracts
from kefu.config import settings
from kefu.ids import now_ms
from kefu.storage.conversations import Conversation, status_key
from kefu.storage.customers import Customer
from kefu.storage.shops import ShopProfile
from kefu.storage.tx import condition_failed, write_transaction

BATCH = 100
QUIET_CLOSES = ("resolved", "bot")  # the statuses that close after the quiet period


def close_quiet_conversations(now: int | None = None) -> int:
    now = now if now is not None else now_ms()
    cutoff = now - settings().resolved_close_after_hours * 3600 * 1000
    closed = 0
    for shop in ShopProfile.shop_registry.query("shops"):
        for status in QUIET_CLOSES:
            for conv in Conversation.by_status.query(
                status_key(shop.shop_id, status),
                Conversation.last_activity_at < cutoff,
                limit=BATCH,
            ):
                closed += _close(conv, now)
    return closed


def _close(conv: Conversation, at: int) -> int:
    try:
        with write_transaction() as tx:
            tx.update(
                conv,
                [
                    *Conversation.status_actions(conv.shop_id, "closed"),
                    Conversation.closed_at.set(at),
                ],
                condition=(Conversation.status == conv.status)
                & (Conversation.last_activity_at == conv.last_activity_at),
            )
            tx.update(
                Customer(conv.shop_id, Customer.key(conv.customer_id)),
                [Customer.open_conversation_id.remove()],
                condition=Customer.open_conversation_id == conv.conversation_id,
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            return 0  # the customer wrote again (or an agent took it) meanwhile: leave it
        if condition_failed(exc, 1):
            # The customer already moved on to another conversation: close this one alone.
            conv.update(
                actions=[
                    *Conversation.status_actions(conv.shop_id, "closed"),
                    Conversation.closed_at.set(at),
                ],
                condition=Conversation.status == conv.status,
            )
        else:
            raise
    events.publish(
        events.DomainEvent(
            contracts.ConversationClosed(
                conversation_id=conv.conversation_id, customer_id=conv.customer_id
            ),
            conv.shop_id,
            f"{events.CONVERSATION_CLOSED}:{conv.conversation_id}",
            occurred_at=at,
        )
    )
    return 1
