"""What a bot turn decides (kefu.bot.turn): the Plan that kefu.bot.planner fills and
kefu.bot.commit writes, and how the customer's short replies are read (a choice, a rejection,
thanks)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kefu.bot.settings import normalise

SHORT = 10  # characters: rejections and thanks are short messages, not new questions
REJECTIONS = (
    "没用",
    "没有用",
    "不是这个",
    "不是我想问的",
    "不是我要问的",
    "没帮助",
    "没有帮助",
    "答非所问",
    "没解决",
    "没有解决",
    "说的不对",
    "回答不对",
    "看不懂",
)
REJECTION_EXACT = ("不对", "不是", "错了", "不行", "无用")
THANKS = ("有用", "谢谢", "感谢", "多谢", "明白了", "懂了", "解决了", "有帮助", "thanks", "thx")
THANKS_REPLY = "不客气～还有其他问题随时问我哦。"
CHOICE_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


@dataclass
class Plan:
    outcome: str
    state: dict[str, Any]
    expected_status: str
    at: int
    replies: list[dict[str, Any]] = field(default_factory=list)  # [{"type", "content"}]
    handoff: dict[str, Any] | None = None
    question: str | None = None
    hit: tuple[str, str] | None = None  # (scope, entry_id) answered from
    feedback: tuple[str, str, bool] | None = None  # (scope, entry_id, helpful)
    rule_id: str | None = None
    entry_id: str | None = None
    scope: str | None = None
    score: float | None = None
    misses: list[dict[str, Any]] = field(default_factory=list)


def _plain(text: str) -> str:
    """Normalised, without punctuation or symbols: how short replies are compared."""
    return "".join(
        ch for ch in normalise(text) if not unicodedata.category(ch).startswith(("P", "S"))
    )


def says(text: str, phrases: tuple[str, ...], exact: tuple[str, ...] = ()) -> bool:
    plain = _plain(text)
    if not plain:
        return False
    if plain in exact or plain in phrases:
        return True
    return len(plain) <= SHORT and any(p in plain for p in phrases)


def parse_choice(text: str, items: list[dict[str, Any]]) -> int | None:
    """The index of the chosen item: "2", "２", "第2个", "第二个", or the item's own text."""
    plain = _plain(text)
    if not plain or not items:
        return None
    core = plain.removeprefix("第").removesuffix("个").removesuffix("条")
    number = None
    if core.isdigit():
        number = int(core)
    elif core in CHOICE_NUMERALS:
        number = CHOICE_NUMERALS[core]
    if number is not None:
        return number - 1 if 1 <= number <= len(items) else None
    for i, item in enumerate(items):
        if plain in (_plain(item.get("label") or ""), _plain(item.get("id") or "")):
            return i
    return None


def text_of(kind: str | None, content: Mapping[str, Any]) -> str:
    if kind == "text":
        return str(content.get("text") or "").strip()
    if kind in ("product_card", "order_card"):
        return str(content.get("title") or content.get("order_id") or "").strip()
    return ""
