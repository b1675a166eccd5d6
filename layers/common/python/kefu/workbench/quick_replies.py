"""Quick replies (快捷回复): shop-wide ones that supervisors and owners manage, and each agent's
personal ones. Sending one renders its variables from the conversation's context and sends it
as the agent's reply through kefu.conversations.replies.reply, so delivery is the normal path;
the use is counted with an atomic ADD on the item.

Variables: {customer_name} {order_status} {tracking_number} {agent_name} {shop_name}, each
optionally with a default ({customer_name|亲}); templating is kefu.bot.templates, shared with the
bot's keyword-rule replies. An unknown variable is refused when the reply is written (400), not
when it is sent.

Scopes (每组专门话术): a reply may carry `tags` and `segments`; listed for a conversation
(`?conversation_id=`), the replies whose tag the customer has or whose segment holds the customer
come first in each list, marked `matched`. Unscoped replies follow, then the other groups'.

Storage (WorkbenchTable): sk "QUICKREPLY#shop#<id>" and "QUICKREPLY#user:<username>#<id>";
listing is two Queries (begins_with on each prefix), every other access one GetItem; for a
conversation, + GetItem conversation + GetItem customer (+ the segments' membership check).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from pynamodb.exceptions import TransactWriteError, UpdateError

from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.bot import templates
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import new_id, now_ms
from kefu.storage.customers import Customer
from kefu.storage.tx import condition_failed, write_transaction
from kefu.storage.workbench import QuickReply

VARIABLES = ("customer_name", "order_status", "tracking_number", "agent_name", "shop_name")
MAX_PER_SCOPE = 200

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
ReplyText = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
GroupId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Groups = Annotated[list[GroupId], msgspec.Meta(max_length=20)]


class NewQuickReply(msgspec.Struct, forbid_unknown_fields=True):
    scope: Literal["shop", "personal"]
    title: Title
    text: ReplyText
    tags: Groups = msgspec.field(default_factory=list)  # tag ids (kefu.tags)
    segments: Groups = msgspec.field(default_factory=list)  # saved segment ids (kefu.segments)


class QuickReplyChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Title | None = None
    text: ReplyText | None = None
    tags: Groups | None = None  # [] removes the scope
    segments: Groups | None = None


def variables_of(text: str) -> list[str]:
    """The variables a text uses; 400 for any this API cannot fill."""
    return templates.check_variables(text, VARIABLES)


def _check_manage(actor: StaffActor, scope: str) -> None:
    if scope == "shop":
        p.require(actor, p.QUICK_REPLIES_MANAGE)
    else:
        p.require(actor, p.CONVERSATIONS_REPLY)


_audit = StaffChanges("quick_reply")


def get_quick_reply(actor: StaffActor, quick_reply_id: str) -> QuickReply:
    """One GetItem. A personal reply's key holds its owner: another agent's is simply absent."""
    p.require(actor, p.CONVERSATIONS_READ)
    if not re.fullmatch(r"qr[sp]_[0-9a-f]{23}", quick_reply_id):
        raise NotFound(f"no quick reply {quick_reply_id!r}", code="quick_reply_not_found")
    return QuickReply.get_or_404(
        actor.shop_id,
        QuickReply.key(quick_reply_id, actor.username),
        consistent_read=True,
        message=f"no quick reply {quick_reply_id!r}",
        code="quick_reply_not_found",
    )


def list_quick_replies(actor: StaffActor, conversation_id: str | None = None) -> dict:
    """Both lists, most used first; for a conversation, the replies scoped to its customer's
    tags or segments first of all (`matched`)."""
    p.require(actor, p.CONVERSATIONS_READ)
    lists = {
        scope: [
            q.to_public()
            for q in QuickReply.query(
                actor.shop_id,
                QuickReply.sk.startswith(QuickReply.scope_prefix(scope, actor.username)),
                limit=MAX_PER_SCOPE,
            )
        ]
        for scope in ("shop", "personal")
    }
    matches = _matcher(actor, conversation_id, [q for qs in lists.values() for q in qs])
    out: dict = {"variables": list(VARIABLES)}
    for scope, replies in lists.items():
        for q in replies:
            q["matched"] = matches(q)
        out[scope] = sorted(
            replies,
            key=lambda q: (
                not q["matched"],
                bool(q["tags"] or q["segments"]) and not q["matched"],
                -q["use_count"],
                q["title"],
            ),
        )
    if conversation_id:
        out["conversation_id"] = conversation_id
    return out


def _matcher(
    actor: StaffActor, conversation_id: str | None, replies: list[dict]
) -> Callable[[dict], bool]:
    """Whether a reply's scope holds for the conversation's customer (never, without one)."""
    if not conversation_id:
        return lambda q: False
    from kefu.conversations import service
    from kefu.customers import get_customer

    conv = service.get_conversation(actor, conversation_id)  # 404 / visibility as usual
    customer = get_customer(actor.shop_id, conv.customer_id)
    tags = frozenset(customer.tags or []) if customer else frozenset()
    wanted = {s for q in replies for s in q["segments"]}
    segments = _segments_of(actor.shop_id, customer, wanted) if customer else set()
    return lambda q: bool(tags.intersection(q["tags"]) or segments.intersection(q["segments"]))


def _segments_of(shop_id: str, customer: Customer, segment_ids: set[str]) -> set[str]:
    """Which of `segment_ids` hold the customer (kefu.segments.membership: judged from the
    customer's item as read here, one BatchGetItem of the definitions)."""
    if not segment_ids:
        return set()
    from boto3.dynamodb.types import TypeDeserializer

    from kefu.segments import membership

    deserializer = TypeDeserializer()
    image = {k: deserializer.deserialize(v) for k, v in customer.serialize().items()}
    return membership(shop_id, image, segment_ids)


def create_quick_reply(actor: StaffActor, req: NewQuickReply) -> dict:
    _check_manage(actor, req.scope)
    used = variables_of(req.text)
    at = now_ms()
    qr_id = new_id("qrs" if req.scope == "shop" else "qrp", at)
    qr = QuickReply(
        actor.shop_id,
        QuickReply.key(qr_id, actor.username),
        quick_reply_id=qr_id,
        scope=req.scope,
        owner=actor.username if req.scope == "personal" else None,
        title=req.title,
        text=req.text,
        variables=used,
        tags=_unique(req.tags) or None,
        segments=_unique(req.segments) or None,
        use_count=0,
        created_by=actor.username,
        created_at=at,
        updated_at=at,
    )
    with write_transaction() as tx:
        tx.save(qr, condition=QuickReply.sk.does_not_exist())
        tx.save(
            _audit(
                actor,
                "quick_reply.created",
                qr.quick_reply_id,
                None,
                {
                    "title": req.title,
                    "text": req.text,
                    "tags": _unique(req.tags),
                    "segments": _unique(req.segments),
                },
                at,
            )
        )
    return qr.to_public()


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def update_quick_reply(actor: StaffActor, quick_reply_id: str, req: QuickReplyChange) -> dict:
    qr = get_quick_reply(actor, quick_reply_id)
    _check_manage(actor, qr.scope)
    if all(v is None for v in (req.title, req.text, req.tags, req.segments)):
        return qr.to_public()  # {} changes nothing (as a merge patch): no write, no audit
    at = now_ms()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    actions = [QuickReply.updated_at.set(at)]
    if req.title is not None:
        before["title"], after["title"] = qr.title, req.title
        actions.append(QuickReply.title.set(req.title))
    if req.text is not None:
        before["text"], after["text"] = qr.text, req.text
        actions += [QuickReply.text.set(req.text), QuickReply.variables.set(variables_of(req.text))]
    for name, values in (("tags", req.tags), ("segments", req.segments)):
        if values is not None:
            attribute = getattr(QuickReply, name)
            before[name], after[name] = list(getattr(qr, name) or []), _unique(values)
            actions.append(attribute.set(_unique(values)) if values else attribute.remove())
    try:
        with write_transaction() as tx:
            tx.update(qr, actions, condition=QuickReply.sk.exists())
            tx.save(_audit(actor, "quick_reply.updated", qr.quick_reply_id, before, after, at))
    except TransactWriteError as exc:
        if condition_failed(exc, 1):
            raise NotFound(
                f"no quick reply {quick_reply_id!r}", code="quick_reply_not_found"
            ) from None
        raise
    qr.refresh(consistent_read=True)
    return qr.to_public()


def delete_quick_reply(actor: StaffActor, quick_reply_id: str) -> None:
    qr = get_quick_reply(actor, quick_reply_id)
    _check_manage(actor, qr.scope)
    at = now_ms()
    with write_transaction() as tx:
        tx.delete(qr)
        tx.save(
            _audit(
                actor,
                "quick_reply.deleted",
                qr.quick_reply_id,
                {"title": qr.title, "text": qr.text},
                None,
                at,
            )
        )


# --- sending ---------------------------------------------------------------------------------


def _values(actor: StaffActor, conv, wanted: list[str]) -> dict[str, str | None]:  # noqa: ANN001
    """Only what the template uses is read (each a key read or one bounded Query)."""
    values: dict[str, str | None] = {}
    if "customer_name" in wanted:
        from kefu.customers import get_customer

        customer = get_customer(actor.shop_id, conv.customer_id)
        values["customer_name"] = customer.display_name if customer else None
    if {"order_status", "tracking_number"} & set(wanted):
        from kefu.workbench.common import recent_orders

        orders = recent_orders(actor.shop_id, conv.customer_id, 1)
        order = orders[0] if orders else {}  # the latest placed (kefu.orders.order_summary)
        values["order_status"] = order.get("shop_status") or order.get("status")
        values["tracking_number"] = order.get("tracking_number")
    if "agent_name" in wanted:
        from kefu.storage.shops import StaffMember

        try:
            member = StaffMember.get(actor.shop_id, StaffMember.key(actor.username))
            values["agent_name"] = member.display_name or actor.username
        except StaffMember.DoesNotExist:
            values["agent_name"] = actor.username
    if "shop_name" in wanted:
        from kefu.shops import get_shop

        values["shop_name"] = get_shop(actor.shop_id).name  # cached per instance
    return values


def render(text: str, values: dict[str, str | None]) -> str:
    missing = templates.missing_variables(text, values)
    if missing:
        raise Conflict(
            f"no value for {', '.join('{' + v + '}' for v in missing)} in this conversation: "
            "edit the text and send it as a normal reply",
            code="variable_unavailable",
            details={"missing": missing},
        )
    return templates.fill(text, values)


def send_quick_reply(actor: StaffActor, conversation_id: str, quick_reply_id: str) -> dict:
    from kefu.conversations import replies, service
    from kefu.conversations.content import TextMessage

    p.require(actor, p.CONVERSATIONS_REPLY)
    qr = get_quick_reply(actor, quick_reply_id)
    conv = service.get_conversation(actor, conversation_id)
    text = render(qr.text, _values(actor, conv, list(qr.variables or variables_of(qr.text))))
    if len(text) > 2000:
        raise BadRequest("the rendered reply is longer than 2000 characters", code="too_long")
    message = replies.reply(actor, conversation_id, TextMessage(text=text))
    # Deleted meanwhile: the reply went out and there is nothing left to count.
    with contextlib.suppress(UpdateError):
        qr.update(
            actions=[
                QuickReply.use_count.add(1),
                QuickReply.last_used_at.set(message["created_at"]),
            ],
            condition=QuickReply.sk.exists(),
        )
    return {**message, "quick_reply_id": qr.quick_reply_id}
