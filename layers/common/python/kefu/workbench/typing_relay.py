"""The agent is typing: shown to a WeChat customer through WeChat's customer-service typing API,
where WeChat allows it (within 48 hours of the customer's last message — outside the window
WeChat refuses, so the relay is skipped and says `relayed: false`). For app/H5 conversations
nothing happens here: realtime carries typing over its WebSocket."""

from __future__ import annotations

import logging

import msgspec

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.conversations.service import get_conversation
from kefu.ids import now_ms
from kefu.workbench.common import require_handler

log = logging.getLogger("kefu.workbench")

WINDOW_MS = 48 * 3600 * 1000
WECHAT_CHANNEL = "wechat_miniprogram"
OPENID_PREFIX = "wechat_openid:"


class TypingRequest(msgspec.Struct, forbid_unknown_fields=True):
    typing: bool


def relay_typing(actor: StaffActor, conversation_id: str, req: TypingRequest) -> dict:
    p.require(actor, p.CONVERSATIONS_REPLY)
    conv = get_conversation(actor, conversation_id)
    require_handler(actor, conv, what="type in it")
    if conv.channel != WECHAT_CHANNEL or not conv.reply_to.startswith(OPENID_PREFIX):
        return {"relayed": False, "reason": "not_wechat"}
    last = conv.last_customer_message_at or 0
    if now_ms() - last >= WINDOW_MS:
        return {"relayed": False, "reason": "outside_48h_window"}
    from kefu.channels.wechat.api import WeChatApi, WeChatApiError, WeChatUnavailable
    from kefu.channels.wechat.tokens import access_token
    from kefu.config import settings
    from kefu.shops import get_shop, wechat_credentials

    try:
        shop = get_shop(actor.shop_id)
        api = WeChatApi(settings().wechat_api_base_url)
        token = access_token(actor.shop_id, wechat_credentials(shop), api)
        api.set_typing(token, conv.reply_to.removeprefix(OPENID_PREFIX), req.typing)
    except (WeChatApiError, WeChatUnavailable) as exc:
        # Best effort: a typing indicator is not worth an error in the agent's editor.
        log.warning("typing relay failed: %s", exc)
        return {"relayed": False, "reason": "wechat_error"}
    return {"relayed": True}
