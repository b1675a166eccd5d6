"""Reply templates: `{variable}` placeholders filled from what is known about the conversation.
One implementation for the agents' quick replies (kefu.workbench.quick_replies) and the bot's
keyword-rule replies.

Syntax: `{name}`, or `{name|default}` for a fallback when the value is unknown ("{customer_name|
亲}您好"). Names are checked when a template is written (`check_variables`: 400 for a name the
caller cannot fill); rendering never raises: an unknown or empty value becomes the placeholder's
default, else the empty string. Values are inserted in one pass, so a value that itself looks
like `{shop_name}` is not expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kefu.errors import BadRequest

# {name} or {name|default}; the default is plain text without braces or "|".
VARIABLE = re.compile(r"\{([A-Za-z0-9_]*)(?:\|([^{}|]{0,50}))?\}")

# What the bot turn fills for a keyword rule's replies (kefu.bot.turn).
BOT_VARIABLES = (
    "customer_name",
    "latest_order_status",
    "latest_order_no",
    "tracking_no",
    "shop_name",
)
MAX_TEXT = 2000  # a text message's limit (kefu.conversations.content.Text)


def variables_in(text: str) -> list[str]:
    """The variable names a text uses, each once, in order of appearance."""
    return list(dict.fromkeys(m.group(1) for m in VARIABLE.finditer(text)))


def check_variables(text: str, known: Iterable[str]) -> list[str]:
    """The variables a text uses; 400 `unknown_variable` for any not in `known`."""
    known = tuple(known)
    used = variables_in(text)
    unknown = [v for v in used if v not in known]
    if unknown:
        raise BadRequest(
            f"unknown variable(s) {', '.join('{' + v + '}' for v in unknown)}; "
            f"use {', '.join('{' + v + '}' for v in known)}",
            code="unknown_variable",
        )
    return used


def missing_variables(text: str, values: Mapping[str, Any]) -> list[str]:
    """Variables with neither a value nor a default of their own (for callers that refuse to
    send such a text rather than leave a gap, as quick replies do)."""
    missing = [
        m.group(1)
        for m in VARIABLE.finditer(text)
        if not values.get(m.group(1)) and m.group(2) is None
    ]
    return list(dict.fromkeys(missing))


def fill(text: str, values: Mapping[str, Any], default: str = "") -> str:
    """The text with every placeholder replaced: its value, else its own default, else
    `default`. Never raises."""

    def one(m: re.Match) -> str:
        value = values.get(m.group(1))
        if value is not None and str(value) != "":
            return str(value)
        return m.group(2) if m.group(2) is not None else default

    return VARIABLE.sub(one, text)


def render_replies(replies: list[dict], variables: Mapping[str, str]) -> list[dict]:
    """A keyword rule's replies as outbound messages, in order: [{"type", "content"}] — the
    shape a stored reply message has (kefu.conversations.replies.reply): text {"text"}, image
    {"media_id"} or {"url"}, miniprogrampage {"title", "pagepath", "thumb_media_id"}.

    Text is filled from `variables` (unknown: the placeholder's default or empty) and cut to
    2000 characters; a text that renders empty is left out. Never raises.
    """
    out: list[dict] = []
    for reply in replies or ():
        kind = reply.get("type")
        if kind == "text":
            text = fill(str(reply.get("content") or ""), variables).strip()[:MAX_TEXT]
            if text:
                out.append({"type": "text", "content": {"text": text}})
        elif kind == "image":
            content = {k: reply[k] for k in ("media_id", "url") if reply.get(k)}
            if content:
                out.append({"type": "image", "content": content})
        elif kind == "miniprogrampage":
            content = {
                "title": fill(str(reply.get("title") or ""), variables).strip()[:64],
                "pagepath": reply.get("pagepath") or "",
                "thumb_media_id": reply.get("thumb_media_id") or "",
            }
            if content["title"] and content["pagepath"] and content["thumb_media_id"]:
                out.append({"type": "miniprogrampage", "content": content})
    return out
