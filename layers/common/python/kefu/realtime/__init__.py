"""Real time: the WebSocket side of kefu (API Gateway WebSocket API).

Every connection is authenticated on $connect with a `token` query parameter — a staff Cognito
access token or a customer's kefu token — and stored scoped to exactly one shop. Frames from
the client are routed by their `action` (ping, typing); frames to the client are JSON objects
{"type": ..., "data": {...}} pushed through the Management API (kefu.realtime.push).
Notifications are fanned out by kefu.realtime.notify (the notifier function).
"""

from __future__ import annotations

import json
from typing import Any

from kefu.auth.permissions import CONVERSATIONS_READ_ALL, has_permission
from kefu.errors import BadRequest, Forbidden, NotFound, Unauthorized
from kefu.ids import now_ms
from kefu.storage.connections import (
    MAX_CONNECTION_SECONDS,
    TTL_MARGIN_SECONDS,
    Connection,
    customer_subscriber,
    staff_online_key,
    staff_subscriber,
)

MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame limit


def _token_kind(token: str) -> str:
    import jwt

    try:
        alg = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Unauthorized("token is not a JWT", code="invalid_token") from None
    # Staff tokens come from Cognito (RS256); customers' are kefu's own (HS256).
    if alg == "RS256":
        return "staff"
    if alg == "HS256":
        return "customer"
    raise Unauthorized(f"unsupported token algorithm {alg!r}", code="invalid_token")


def connect(
    connection_id: str,
    query: dict[str, str] | None,
    *,
    connected_at: int | None = None,
) -> Connection:
    """Authenticate a new connection and store it. Raises a KefuError to refuse it."""
    query = query or {}
    token = (query.get("token") or "").strip()
    if not token:
        raise Unauthorized("connect with ?token=<access token>", code="missing_token")
    at = connected_at or now_ms()
    expires_at = at // 1000 + MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS
    if _token_kind(token) == "staff":
        from kefu.auth.staff_tokens import verify_staff_token

        staff = verify_staff_token(token)
        shop_id = staff.shop_id
        conn = Connection(
            connection_id,
            shop_id=shop_id,
            subscriber=staff_subscriber(shop_id, staff.username),
            shop_staff=staff_online_key(shop_id),
            kind="staff",
            principal=staff.username,
            role=staff.role,
            connected_at=at,
            expires_at=expires_at,
        )
    else:
        from kefu.auth.customer_tokens import verify_customer_token

        customer = verify_customer_token(token)
        shop_id = customer.shop_id
        conn = Connection(
            connection_id,
            shop_id=shop_id,
            subscriber=customer_subscriber(shop_id, customer.customer_id),
            kind="customer",
            principal=customer.customer_id,
            channel=customer.channel,
            connected_at=at,
            expires_at=expires_at,
        )
    wanted_shop = query.get("shop_id")
    if wanted_shop and wanted_shop != shop_id:
        raise Forbidden("token belongs to another shop", code="wrong_shop")
    conn.save()
    return conn


def disconnect(connection_id: str) -> None:
    Connection(connection_id).delete()  # idempotent: deleting a missing item succeeds


def _connection(connection_id: str) -> Connection:
    try:
        return Connection.get(connection_id)
    except Connection.DoesNotExist:
        # Not (or no longer) registered: the client must reconnect.
        raise Unauthorized(
            "connection is not registered; reconnect", code="not_connected"
        ) from None


def parse_frame(body: str | None) -> dict[str, Any]:
    if body is None or len(body.encode()) > MAX_FRAME_BYTES:
        raise BadRequest("frame must be a JSON object up to 32 KB", code="invalid_frame")
    try:
        frame = json.loads(body)
    except ValueError:
        raise BadRequest("frame is not JSON", code="invalid_frame") from None
    if not isinstance(frame, dict):
        raise BadRequest("frame must be a JSON object", code="invalid_frame")
    return frame


def pong(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "pong", "at": now_ms(), "echo": frame.get("echo")}


def typing(connection_id: str, frame: dict[str, Any]) -> int:
    """Relay a typing indicator: agent -> the customer's sockets, customer -> the assignee's.

    Returns how many sockets took it."""
    from kefu.realtime.push import broadcast
    from kefu.realtime.push import frame as make_frame
    from kefu.storage.conversations import Conversation

    conversation_id = frame.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise BadRequest("typing needs conversation_id", code="invalid_frame")
    is_typing = frame.get("typing", True) is not False
    conn = _connection(connection_id)
    conv = Conversation.get_or_404(
        conn.shop_id, conversation_id, message="no such conversation", code="conversation_not_found"
    )  # the key is scoped to the shop
    if conv.status == "closed":
        return 0
    data = {"conversation_id": conversation_id, "typing": is_typing, "at": now_ms()}
    if conn.kind == "staff":
        mine = conv.assignee == conn.principal
        if not mine and not has_permission(conn.role or "", CONVERSATIONS_READ_ALL):
            raise Forbidden("conversation is not assigned to you", code="not_assignee")
        data["from"] = "agent"
        targets = [customer_subscriber(conn.shop_id, conv.customer_id)]
    else:
        if conv.customer_id != conn.principal:
            raise NotFound("no such conversation", code="conversation_not_found")
        if not conv.assignee:
            return 0
        data.update({"from": "customer", "customer_id": conv.customer_id})
        targets = [staff_subscriber(conn.shop_id, conv.assignee)]
    return broadcast(targets, make_frame("typing", data))


def error_frame(exc: Any) -> dict[str, Any]:
    return {"type": "error", "error": {"code": exc.code, "message": exc.message}}
