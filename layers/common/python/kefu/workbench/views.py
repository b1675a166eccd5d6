"""The agent's lists ("views") and their counts.

Every view is one Query on a ConversationsTable index (never a Scan); the filters below apply
to the page that Query reads. Counts are the same Query with Select=COUNT, one request per view
and bounded by COUNT_CAP index items: a view beyond the cap is reported as `count: COUNT_CAP,
more: true` ("500+"). No maintained counters: they would need a write on every status change in
every capability, and an agent's lists are small.

view             index (partition)                   order              filter
mine             by_assignee (<shop>#<me>)           newest activity    assigned, not snoozed
snoozed          by_assignee (<shop>#<me>)           newest activity    assigned, snoozed
my_queues        by_status (<shop>#queued)           newest activity    queue in my queues
unassigned       by_status (<shop>#queued)           newest activity    -
waiting_longest  by_status (<shop>#queued)           oldest activity    -
bot              by_status (<shop>#bot)              newest activity    - (the bot's; counted
                                                                        when the shop's bot is on)
all              by_activity (<shop>), supervisors   newest activity    open statuses
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Forbidden
from kefu.ids import now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.storage.conversations import OPEN_STATUSES, Conversation

COUNT_CAP = 500
VIEWS = ("mine", "snoozed", "my_queues", "unassigned", "waiting_longest", "bot", "all")
SUPERVISOR_VIEWS = {"all"}


@dataclass(frozen=True)
class _Plan:
    index: Any
    hash_key: str
    filter: Any
    newest_first: bool = True


def my_queues(actor: StaffActor) -> list[str]:
    """Queues the actor is a member of (QUEUE# items, routing). A shop without queue items
    has only its default queue, which is everyone's."""
    from kefu.shops import get_shop
    from kefu.storage.workbench import QUEUE_PREFIX, QueueItem

    # One Query over the shop's queue items (bounded by the number of queues it defines).
    items = list(QueueItem.query(actor.shop_id, QueueItem.sk.startswith(QUEUE_PREFIX)))
    if not items:
        return [get_shop(actor.shop_id).default_queue]
    return [q.queue_id for q in items if q.has_member(actor.username)]


def _plan(actor: StaffActor, view: str, now: int, queues: list[str] | None) -> _Plan | None:
    shop = actor.shop_id
    if view not in VIEWS:
        raise BadRequest(f"view must be one of {', '.join(VIEWS)}", code="invalid_view")
    if view in SUPERVISOR_VIEWS and not actor.can(p.CONVERSATIONS_READ_ALL):
        raise Forbidden(f"the {view!r} view is for supervisors", code="permission_denied")
    if view in ("mine", "snoozed"):
        awake = Conversation.snoozed_until.does_not_exist() | (Conversation.snoozed_until <= now)
        asleep = Conversation.snoozed_until > now
        return _Plan(
            Conversation.by_assignee,
            Conversation.assignee_key(shop, actor.username),
            (Conversation.status == "assigned") & (awake if view == "mine" else asleep),
        )
    if view == "my_queues":
        if not queues:
            return None
        return _Plan(
            Conversation.by_status,
            Conversation.status_key(shop, "queued"),
            Conversation.queue.is_in(*queues),
        )
    if view in ("unassigned", "waiting_longest"):
        return _Plan(
            Conversation.by_status,
            Conversation.status_key(shop, "queued"),
            None,
            newest_first=view == "unassigned",
        )
    if view == "bot":
        # Agents may watch the bot's conversations and take one over (claim ends the bot's part).
        return _Plan(Conversation.by_status, Conversation.status_key(shop, "bot"), None)
    return _Plan(Conversation.by_activity, shop, Conversation.status.is_in(*OPEN_STATUSES))


def list_view(
    actor: StaffActor, view: str, *, limit: int, cursor: str | None
) -> tuple[list[dict], str | None]:
    p.require(actor, p.CONVERSATIONS_READ)
    plan = _plan(actor, view, now_ms(), my_queues(actor) if view == "my_queues" else None)
    if plan is None:
        return [], None
    results = plan.index.query(
        plan.hash_key,
        filter_condition=plan.filter,
        scan_index_forward=not plan.newest_first,
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    convs, next_cursor = take_page(results, limit)
    return _with_customers(actor.shop_id, [c.to_public() for c in convs]), next_cursor


def _with_customers(shop_id: str, items: list[dict]) -> list[dict]:
    """Each conversation with its customer's name, tier and tags — what agents scan a list by
    and filter it on — from one projected BatchGetItem for the page (≤ 100 keys a request)."""
    from kefu.storage.customers import Customer

    ids = list(dict.fromkeys(i["customer_id"] for i in items if i.get("customer_id")))
    found: dict[str, Customer] = {}
    if ids:
        keys = [(shop_id, Customer.key(cid)) for cid in ids]
        wanted = ["pk", "sk", "customer_id", "display_name", "tier", "tags"]
        found = {c.customer_id: c for c in Customer.batch_get(keys, attributes_to_get=wanted)}
    for item in items:
        customer = found.get(item.get("customer_id") or "")
        item["customer"] = (
            None
            if customer is None
            else {
                "display_name": customer.display_name,
                "tier": customer.tier,
                "tags": list(customer.tags or []),
            }
        )
    return items


def _count(plan: _Plan) -> dict:
    """One Query, Select=COUNT, reading at most COUNT_CAP index items."""
    data = Conversation._get_connection().query(
        plan.hash_key,
        index_name=plan.index.Meta.index_name,
        filter_condition=plan.filter,
        limit=COUNT_CAP,
        select="COUNT",
    )
    return {"count": int(data.get("Count", 0)), "more": "LastEvaluatedKey" in data}


def _bot_enabled(shop_id: str) -> bool:
    from kefu.shops import get_shop

    return bool(get_shop(shop_id).bot_enabled)  # the profile is cached in the instance


def view_counts(actor: StaffActor) -> dict:
    p.require(actor, p.CONVERSATIONS_READ)
    now = now_ms()
    queues = my_queues(actor)
    views = [v for v in VIEWS if v not in SUPERVISOR_VIEWS or actor.can(p.CONVERSATIONS_READ_ALL)]
    if not _bot_enabled(actor.shop_id):
        views.remove("bot")  # no request spent on a view that is always empty
    out = []
    counts: dict[str, dict] = {}
    for view in views:
        if view == "waiting_longest":  # the same conversations as "unassigned", in another order
            counts[view] = counts["unassigned"]
        else:
            plan = _plan(actor, view, now, queues)
            counts[view] = _count(plan) if plan else {"count": 0, "more": False}
        out.append({"view": view, **counts[view]})
    return {"views": out, "my_queues": queues, "count_cap": COUNT_CAP}
