"""The WebSocket API's routes: $connect (authenticate + store), $disconnect, ping, typing,
$default. Routes with a route response send the returned `body` back to the client."""

import json
import logging
from typing import Any

from kefu import realtime
from kefu.errors import KefuError

log = logging.getLogger("kefu.realtime")


def _reply(status: int, frame: dict | None = None) -> dict:
    out: dict = {"statusCode": status}
    if frame is not None:
        out["body"] = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    return out


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event.get("requestContext") or {}
    route, connection_id = ctx.get("routeKey"), ctx.get("connectionId")
    try:
        if route == "$connect":
            conn = realtime.connect(
                connection_id,
                event.get("queryStringParameters"),
                connected_at=ctx.get("connectedAt"),
            )
            log.info("connected %s (%s %s)", connection_id, conn.kind, conn.shop_id)
            return _reply(200)
        if route == "$disconnect":
            realtime.disconnect(connection_id)
            return _reply(200)
        frame = realtime.parse_frame(event.get("body"))
        if route == "ping":
            return _reply(200, realtime.pong(frame))
        if route == "typing":
            realtime.typing(connection_id, frame)
            return _reply(200)
        return _reply(
            400,
            {
                "type": "error",
                "error": {
                    "code": "unknown_action",
                    "message": 'send {"action": "ping" | "typing", ...}',
                },
            },
        )
    except KefuError as exc:
        # On $connect a non-2xx refuses the connection; on a message it answers the client.
        log.info("%s refused: %s %s", route, exc.code, exc.message)
        return _reply(exc.status, realtime.error_frame(exc))
