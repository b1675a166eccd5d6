"""The event contracts: one msgspec Struct per domain event type — its detail-type (`TYPE`), the
capability that emits it (`SOURCE`), its contract version (`VERSION`), and its `data` fields
with their types. Publishers build these (kefu.events.DomainEvent takes one); consumers get
them back from kefu.events.decode, which rejects an unknown type or a missing or mistyped
required field. docs/events.md's table is generated from here (infra.events_doc).

Wire format: a Struct encodes to exactly the `data` object published before contracts existed.
A field that is always sent has no default or defaults to None (and is sent as null); a field
sent only sometimes defaults to UNSET, which is left out of the JSON. Required fields (no
default) are what a consumer cannot do without; extra fields are ignored, so adding one is not
a new version.

This module is longer than 500 lines because it is the one catalogue of every contract, in the
order docs/events.md lists them: split, the table would be generated from several places.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from msgspec import UNSET, UnsetType

Content = dict[str, Any]


class EventData(msgspec.Struct, kw_only=True):
    """The `data` of one event type. Subclasses set TYPE, SOURCE, VERSION and CONSUMERS."""

    TYPE: ClassVar[str] = ""
    SOURCE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    CONSUMERS: ClassVar[str] = "—"


# ----------------------------------------------------------------------------- intake


class MessageReceived(EventData):
    """A customer's message, stored. `bot`: the shop's bot is on. `tagging`: the shop has
    enabled auto-tag rules that match messages (keyword rules); both from the shop profile
    intake caches for a minute."""

    TYPE = "message.received"
    SOURCE = "kefu.intake"
    CONSUMERS = (
        "**routing** when `reopened` (`RoutingReopenedRule` → `RoutingQueue`: a reopened "
        "conversation without an agent is assigned); **autoreply** when `bot` (`AutoreplyRule` "
        "→ `AutoreplyQueue`: the bot's turn, docs/bot.md); notifier; **tagging** when `tagging` "
        "(`TaggingMessageRule` → `TaggingQueue`: auto-tag rules on keywords, docs/tags.md); "
        "(reporting: later)"
    )
    conversation_id: str
    message_id: str
    msg_key: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    type: str | None = None
    content: Content | None = None
    new_conversation: bool = False
    reopened: bool = False
    bot: bool = False
    tagging: bool = False


class CustomerEnteredSession(EventData):
    """A WeChat customer opened the customer-service session."""

    TYPE = "customer.entered_session"
    SOURCE = "kefu.intake"
    customer_id: str
    session_from: str | None = None
    channel: str | None = None


class ConversationOpened(EventData):
    """A new conversation. `queue`: the shop's default; `status`: `bot` when the shop's bot
    answers first, else `queued`; `type`, `content`: of the first message (what routing rules
    read)."""

    TYPE = "conversation.opened"
    SOURCE = "kefu.intake"
    CONSUMERS = (
        "**routing** (`RoutingRule` → `RoutingQueue`; a `bot` conversation is left to the bot "
        "until `handoff.requested`)"
    )
    conversation_id: str
    customer_id: str | None = None
    channel: str | None = None
    queue: str | None = None
    status: str | None = None
    type: str | None = None
    content: Content | None = None


# ----------------------------------------------------------------------------- conversations


class ConversationAssigned(EventData):
    TYPE = "conversation.assigned"
    SOURCE = "kefu.conversations"
    CONSUMERS = "notifier"
    conversation_id: str
    assignee: str | None = None
    previous_assignee: str | None = None
    by: str | None = None


class ConversationResolved(EventData):
    TYPE = "conversation.resolved"
    SOURCE = "kefu.conversations"
    conversation_id: str
    customer_id: str | None = None
    by: str | None = None


class ConversationClosed(EventData):
    TYPE = "conversation.closed"
    SOURCE = "kefu.conversations"
    conversation_id: str
    customer_id: str | None = None


class ReplyCreated(EventData):
    """A reply to deliver: `reply_to` is the channel address, `sender` {type, id, and `name`:
    an agent's display name, sent with an agent's reply}; `assignee`: the conversation's
    assignee when an agent replied (sent then; outbound passes it on to the delivery events).
    Both spare the notifier a read."""

    TYPE = "reply.created"
    SOURCE = "kefu.conversations"
    CONSUMERS = "**outbound** (`ReplyCreatedRule` → `OutboundQueue`); notifier"
    conversation_id: str
    message_id: str
    msg_key: str | None = None
    customer_id: str | None = None
    channel: str | None = None
    reply_to: str | None = None
    type: str | None = None
    content: Content | None = None
    sender: dict[str, Any] | None = None
    assignee: str | None | UnsetType = UNSET


# ----------------------------------------------------------------------------- outbound


class MessageDelivered(EventData):
    """`assignee`: the conversation's, as `reply.created` carried it (sent when it did): who is
    told (else the notifier reads the conversation)."""

    TYPE = "message.delivered"
    SOURCE = "kefu.outbound"
    CONSUMERS = "notifier"
    conversation_id: str
    message_id: str
    channel: str | None = None
    assignee: str | None | UnsetType = UNSET


class MessageUndeliverable(EventData):
    """`assignee`: as in `message.delivered`."""

    TYPE = "message.undeliverable"
    SOURCE = "kefu.outbound"
    CONSUMERS = "notifier"
    conversation_id: str
    message_id: str
    channel: str | None = None
    reason: str | None = None
    # `unknown` when the send's outcome was lost (it may have reached the customer): sent only then
    delivery_status: str | UnsetType = UNSET
    assignee: str | None | UnsetType = UNSET


# ----------------------------------------------------------------------------- routing


class ConversationRouted(EventData):
    """`rule_id` null: no rule matched (the default queue); `assignee` null: waiting. Event id
    `conversation.routed:<id>`."""

    TYPE = "conversation.routed"
    SOURCE = "kefu.routing"
    CONSUMERS = "— (reporting: later)"
    conversation_id: str
    queue: str | None = None
    priority: int = 0
    rule_id: str | None = None
    assignee: str | None = None


class ConversationTransferred(EventData):
    """To an agent or a queue (one of `to_agent`, `to_queue`)."""

    TYPE = "conversation.transferred"
    SOURCE = "kefu.routing"
    CONSUMERS = (
        "**routing** when `to_queue` (assign in that queue, not back to from_agent); notifier"
    )
    conversation_id: str
    from_agent: str | None = None
    from_queue: str | None = None
    to_agent: str | None = None
    to_queue: str | None = None
    note: str | None = None
    by: str | None = None


class AgentStatusChanged(EventData):
    TYPE = "agent.status_changed"
    SOURCE = "kefu.routing"
    username: str
    status: str | None = None
    previous_status: str | None = None
    capacity: int | None = None
    by: str | None = None


class AgentSlotFreed(EventData):
    """`reason`: resolved, transferred, reassigned, online, capacity, queue_joined. Event id
    `agent.slot_freed:<username>:<ms>:<reason>`."""

    TYPE = "agent.slot_freed"
    SOURCE = "kefu.routing"
    CONSUMERS = "**routing** (fills the slot from the waiting line: no sweep)"
    username: str
    reason: str | None = None


# ----------------------------------------------------------------------------- the shop's events


class ShopOrderEvent(EventData):
    """The shop's order event, applied: `order` is the summary after it. Event id
    `shop.<type>:<the shop's event_id>`."""

    SOURCE = "kefu.shop"
    CONSUMERS = (
        "**tiers** (`TiersOrderRule` → `TiersQueue`: points, RFM scores, tier; docs/tiers.md)"
    )
    customer_id: str
    shop_event_id: str
    order_id: str
    status_applied: bool = False
    order: dict[str, Any] | None = None


class ShopOrderCreated(ShopOrderEvent):
    TYPE = "shop.order_created"


class ShopOrderPaid(ShopOrderEvent):
    TYPE = "shop.order_paid"
    CONSUMERS = "**tagging** (auto-tag rules on an order's category or amount, N orders in M days)"


class ShopOrderShipped(ShopOrderEvent):
    """As the order events; `order` carries carrier, tracking_number."""

    TYPE = "shop.order_shipped"


class ShopLogisticsUpdated(ShopOrderEvent):
    """As the order events + logistics {status, description, location, at}."""

    TYPE = "shop.logistics_updated"
    CONSUMERS = "—"
    logistics: dict[str, Any] | UnsetType = UNSET


class ShopOrderDelivered(ShopOrderEvent):
    TYPE = "shop.order_delivered"


class ShopRefundRequested(ShopOrderEvent):
    TYPE = "shop.refund_requested"
    CONSUMERS = "**tagging** (auto-tag rules on a refund)"
    refund_amount: str | None | UnsetType = UNSET  # money as a decimal string ("12.50")
    reason: str | None | UnsetType = UNSET


class ShopRefundApproved(ShopOrderEvent):
    TYPE = "shop.refund_approved"
    CONSUMERS = "**tagging** (auto-tag rules on a refund)"
    refund_amount: str | None | UnsetType = UNSET  # money as a decimal string ("12.50")


class ShopOrderCancelled(ShopOrderEvent):
    TYPE = "shop.order_cancelled"
    reason: str | None | UnsetType = UNSET


class ShopActivityEvent(EventData):
    """What the customer did in the shop. Event id `shop.<type>:<the shop's event_id>`."""

    SOURCE = "kefu.shop"
    customer_id: str
    shop_event_id: str
    product_id: str | None = None
    title: str | None = None
    category: str | None = None
    price: str | None = None  # money as a decimal string
    quantity: int | None = None


class ShopCartItemAdded(ShopActivityEvent):
    TYPE = "shop.cart_item_added"


class ShopCartItemRemoved(ShopActivityEvent):
    TYPE = "shop.cart_item_removed"


class ShopProductViewed(ShopActivityEvent):
    TYPE = "shop.product_viewed"


# ----------------------------------------------------------------------------- tiers


class CustomerTierChanged(EventData):
    """The customer's tier moved (kefu.tiers: an order event or the nightly pass). `old_tier`
    null: never tiered; `regular`: no purchase; `rfm` {r, f, m} the scores 1-5 behind
    `new_tier`; `cause` the event id that led to it (`nightly:<run>` for the nightly pass);
    `open_conversation_id` the customer's open conversation, if any, when it changed. Event id
    `customer.tier_changed:<customer_id>:<tier_changed_at>`."""

    TYPE = "customer.tier_changed"
    SOURCE = "kefu.tiers"
    CONSUMERS = (
        "**routing** (`RoutingTierRule` → `RoutingQueue`: a waiting conversation of a customer "
        "now matching a tier rule moves to that rule's queue, docs/routing.md); **tagging** "
        "(`TaggingRule` → `TaggingQueue`: auto-tag rules on a tier)"
    )
    customer_id: str
    new_tier: str
    old_tier: str | None = None
    rfm: dict[str, int] | None = None
    cause: str | None = None
    open_conversation_id: str | None = None


# ----------------------------------------------------------------------------- customers


class CustomerUpdated(EventData):
    """A profile changed (staff edit, or its purchase summary moved its lifecycle stage).
    `fields`: the names of the fields that changed — never their values (personal data stays
    in the table, encrypted, and out of the event archive)."""

    TYPE = "customer.updated"
    SOURCE = "kefu.customers"
    CONSUMERS = "**tagging** (auto-tag rules on a custom attribute's value)"
    customer_id: str
    fields: list[str]
    actor: str | None = None
    lifecycle_stage: str | None = None
    owner_agent: str | None = None
    # The new values of the custom attributes that changed ({attribute_id: value}; a removed one
    # null): the shop's own non-personal fields, which auto-tag rules match on.
    attributes: dict[str, Any] | None = None


class CustomerMerged(EventData):
    """Staff merged `merged_id` into `customer_id` (after a preview); the merged profile keeps
    `merged_into`. `moved`: how many of each kind of record moved or was linked."""

    TYPE = "customer.merged"
    SOURCE = "kefu.customers"
    customer_id: str
    merged_id: str
    actor: str
    moved: dict[str, int] = {}


class CustomerErased(EventData):
    """A customer was erased on request (PIPL/GDPR): consumers holding anything about them drop
    it. Aggregate counts are kept without the person."""

    TYPE = "customer.erased"
    SOURCE = "kefu.customers"
    customer_id: str
    actor: str


# ----------------------------------------------------------------------------- workbench, tickets


class StaffMentioned(EventData):
    """`mentioned`: the username; `text`: the first 200 characters of the internal note."""

    TYPE = "staff.mentioned"
    SOURCE = "kefu.workbench"
    CONSUMERS = "notifier (a notification to the mentioned colleague)"
    # One username per event as published; the notifier reads a list of them too.
    mentioned: str | list[str]
    conversation_id: str | None = None
    message_id: str | None = None
    msg_key: str | None = None
    by: str | None = None
    text: str | None = None


class TicketCreated(EventData):
    TYPE = "ticket.created"
    SOURCE = "kefu.tickets"
    CONSUMERS = "notifier"
    ticket_id: str
    type: str | None = None
    priority: str | None = None
    status: str | None = None
    subject: str | None = None
    assignee: str | None = None
    department: str | None = None
    customer_id: str | None = None
    conversation_id: str | None = None
    by: str | None = None


class TicketUpdated(EventData):
    """`changes` {field: {before, after}}; `comment` {visibility, message_id} on comments."""

    TYPE = "ticket.updated"
    SOURCE = "kefu.tickets"
    CONSUMERS = "notifier"
    ticket_id: str
    changes: dict[str, Any] = {}
    comment: dict[str, Any] | UnsetType = UNSET
    status: str | None = None
    priority: str | None = None
    assignee: str | None = None
    by: str | None = None


class TicketResolved(EventData):
    """Event id `ticket.resolved:<id>:<resolved_at>`: one per resolution."""

    TYPE = "ticket.resolved"
    SOURCE = "kefu.tickets"
    CONSUMERS = "**ticket_notifier** (`TicketResolvedRule` → `TicketNotifierQueue`)"
    ticket_id: str
    short_id: str | None = None
    subject: str | None = None
    customer_id: str | None = None
    conversation_id: str | None = None
    resolution_note: str | None = None
    resolved_at: int | None = None
    by: str | None = None


class TicketSlaBreached(EventData):
    """`kind`: first_response or resolution; `priority` after escalation. Event id
    `ticket.sla_breached:<id>:<kind>`."""

    TYPE = "ticket.sla_breached"
    SOURCE = "kefu.tickets"
    CONSUMERS = "notifier (supervisor notification)"
    ticket_id: str
    short_id: str | None = None
    subject: str | None = None
    kind: str | None = None
    due_at: int | None = None
    priority: str | None = None
    previous_priority: str | None = None
    assignee: str | None = None
    department: str | None = None
    customer_id: str | None = None


class StaffNotified(EventData):
    """`kind`: assigned, transferred, ticket_assigned, sla_breached, mentioned; `cause`
    {type, event_id}. Event id `staff.notified:<cause event id>:<username>`: one per inbox item."""

    TYPE = "staff.notified"
    SOURCE = "kefu.realtime"
    CONSUMERS = "— (e.g. a subscription message to an offline agent, later)"
    username: str
    notification_id: str | None = None
    kind: str | None = None
    cause: dict[str, Any] | None = None


# ----------------------------------------------------------------------------- bot, knowledge


class BotReplied(EventData):
    """`message_id`: the customer's message answered; `outcome`: answer, suggest, rule, order,
    order_choice, no_orders, thanks, fallback, handoff, off_hours_offer, message_recorded;
    `entry_id` + `scope`: the knowledge-base entry; `rule_id`: the keyword rule. Event id
    `bot.replied:<message id>`: one per turn."""

    TYPE = "bot.replied"
    SOURCE = "kefu.bot"
    CONSUMERS = "**tagging** (auto-tag rules on the intent: `entry_id`); (reporting: later)"
    conversation_id: str
    message_id: str
    outcome: str | None = None
    entry_id: str | None = None
    scope: str | None = None
    rule_id: str | None = None
    score: float | None = None
    handoff_reason: str | None = None


class HandoffRequested(EventData):
    """`reason`: requested, anger, vip, misses, low_confidence, rejected, disabled; `transcript`
    [{sender, text, at}] (≤ 10, oldest first); for routing's rules channel, queue, type,
    content (the customer's last question). Event id `handoff.requested:<id>:<at>`."""

    TYPE = "handoff.requested"
    SOURCE = "kefu.bot"
    CONSUMERS = (
        "**routing** (`RoutingRule` → `RoutingQueue`: routed exactly as `conversation.opened`); "
        "**tagging** (auto-tag rules on the `intent`)"
    )
    conversation_id: str
    customer_id: str | None = None
    reason: str | None = None
    intent: str | None = None
    transcript: list[dict[str, Any]] = []
    channel: str | None = None
    queue: str | None = None
    type: str | None = None
    content: Content | None = None


class KnowledgePublishRequested(EventData):
    """`scope`: the partition (the shop's id, or `platform`); the envelope's `shop_id` is the
    requester's shop. Event id `knowledge.publish_requested:<scope>:<draft revision>:<ms>`."""

    TYPE = "knowledge.publish_requested"
    SOURCE = "kefu.knowledge"
    CONSUMERS = (
        "**knowledge_publisher** (`KnowledgePublishRule` → `KnowledgePublishQueue`: builds the "
        "index and publishes it, docs/knowledge-base.md)"
    )
    scope: str
    draft_revision: int
    requested_by: str | None = None
    requested_by_role: str | None = None


class KnowledgePublished(EventData):
    """A new published version built from the draft (`restored_from` null unless a restore).
    Event id `knowledge.published:<scope>:<version>`; announced again under that id if a build
    is redelivered."""

    TYPE = "knowledge.published"
    SOURCE = "kefu.knowledge"
    scope: str
    version: int
    published_at: int | None = None
    published_by: str | None = None
    entry_count: int | None = None
    size_bytes: int | None = None
    draft_revision: int | None = None
    restored_from: int | None = None
    index_key: str | None = None


# ----------------------------------------------------------------------------- customers, tags


class CustomerTagged(EventData):
    """Tags put on a customer; `source`: staff:<username>, rule:<rule_id>, import or api.
    Event id `customer.tagged:<customer>:<ms>`: one per change."""

    TYPE = "customer.tagged"
    SOURCE = "kefu.tags"
    CONSUMERS = "— (campaigns: later)"
    customer_id: str
    tag_ids: list[str]
    source: str | None = None


class CustomerUntagged(EventData):
    """Tags taken off a customer (as `customer.tagged`)."""

    TYPE = "customer.untagged"
    SOURCE = "kefu.tags"
    CONSUMERS = "— (campaigns: later)"
    customer_id: str
    tag_ids: list[str]
    source: str | None = None


class CampaignClicked(EventData):
    """A customer opened a campaign's link (reported by the shop's back end or the campaigns
    capability, later). Event id `campaign.clicked:<campaign>:<customer>:<the click's id>`."""

    TYPE = "campaign.clicked"
    SOURCE = "kefu.campaigns"
    CONSUMERS = "**tagging** (auto-tag rules on a campaign)"
    customer_id: str
    campaign_id: str
    click_id: str | None = None


class JobFinished(EventData):
    """A background job ended (`status` done, failed or rejected) with its counts."""

    TYPE = "job.finished"
    SOURCE = "kefu.jobs"
    CONSUMERS = "— (the staff inbox: later)"
    job_id: str
    kind: str
    status: str
    total: int = 0
    done: int = 0
    failed: int = 0
    actor: str | None = None


def _concrete(cls: type[EventData]) -> list[type[EventData]]:
    out = [cls] if cls.TYPE else []
    for sub in cls.__subclasses__():
        out += _concrete(sub)
    return out


# type -> its Struct, in declaration order (the order of docs/events.md)
CATALOG: dict[str, type[EventData]] = {c.TYPE: c for c in _concrete(EventData)}
