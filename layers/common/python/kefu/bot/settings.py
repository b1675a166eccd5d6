"""The bot's settings (GET/PUT /v1/bot/settings, supervisors and owners, audited), and their
compiled form the bot turn uses, cached per settings revision.

Stored as one document on BotTable `sk="settings"` with a `revision`; `enabled` is mirrored on
the shop profile in the same transaction, because intake reads the (cached) profile anyway and
must know, without a request of its own, whether a new conversation opens with the bot
(docs/decisions.md). Turning the bot off hands the conversations it still has to people.

Phrase sets (hand-off requests, anger/complaint words) are matched with one Aho-Corasick
automaton each (kefu.matching.KeywordAutomaton, pyahocorasick) over the normalised message.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import caches
from kefu.audit import staff_change
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, NotFound
from kefu.ids import now_ms
from kefu.matching import KeywordAutomaton, VersionedCache
from kefu.storage.bot import SETTINGS_SK, BotSettingsItem
from kefu.storage.shops import PROFILE, ShopProfile
from kefu.storage.tx import condition_failed, write_transaction

DEFAULT_HANDOFF_PHRASES = (
    "转人工",
    "人工客服",
    "人工",
    "找客服",
    "真人客服",
    "客服在吗",
    "真人",
    "人工服务",
    "找人工",
)
DEFAULT_ANGER_WORDS = (
    "投诉",
    "差评",
    "垃圾",
    "骗子",
    "举报",
    "12315",
    "气死",
    "退钱",
    "太差",
    "坑人",
    "黑店",
    "欺骗",
    "曝光",
    "消协",
)
DEFAULT_TEXTS = {
    "fallback_text": "抱歉，这个问题我还没学会😥 您可以换个说法问我，或回复“转人工”联系人工客服。",
    "handoff_text": "好的，正在为您转接人工客服，请稍候～",
    "off_hours_text": (
        "现在是非工作时间，客服上班后会第一时间回复您。您可以直接留言说明问题，我们会记录下来。"
    ),
    "recorded_text": "您的留言已记录，客服上班后会尽快联系您，请留意消息～",
}
MAX_PHRASES = 200

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Phrase = Annotated[str, msgspec.Meta(min_length=1, max_length=30)]
Tier = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Score = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class BotSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """PUT /v1/bot/settings: the whole document (fields left out take their defaults)."""

    enabled: bool = False
    # Sent before the bot's first answer of a conversation.
    greeting: Text | None = None
    # Overrides of kefu.retrieval's default thresholds (null: the defaults).
    answer_threshold: Score | None = None
    suggest_threshold: Score | None = None
    # Consecutive questions the bot could not answer before it hands off.
    max_misses: Annotated[int, msgspec.Meta(ge=1, le=10)] = 2
    # null: the defaults; a list replaces them (GET shows the lists in force, so add to those).
    handoff_phrases: Annotated[list[Phrase], msgspec.Meta(max_length=MAX_PHRASES)] | None = None
    anger_words: Annotated[list[Phrase], msgspec.Meta(max_length=MAX_PHRASES)] | None = None
    # Customers of these tiers go straight to a person.
    vip_tiers: Annotated[list[Tier], msgspec.Meta(max_length=20)] = []
    # What the bot does when it has no answer: hand off at once, or apologise (a miss) and
    # hand off after max_misses in a row.
    low_confidence: Literal["handoff", "apologise"] = "handoff"
    fallback_text: Text | None = None
    handoff_text: Text | None = None
    off_hours_text: Text | None = None
    recorded_text: Text | None = None


def normalise(text: str) -> str:
    """Full-width to half-width, case folded, whitespace removed: what phrases match on."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass
class Compiled:
    """The settings as the bot turn uses them."""

    enabled: bool
    greeting: str | None
    answer_threshold: float | None
    suggest_threshold: float | None
    max_misses: int
    vip_tiers: frozenset[str]
    low_confidence: str
    texts: dict[str, str]
    handoff_phrases: tuple[str, ...]
    anger_words: tuple[str, ...]

    def __post_init__(self) -> None:
        self._handoff = KeywordAutomaton({normalise(w): w for w in self.handoff_phrases if w})
        self._anger = KeywordAutomaton({normalise(w): w for w in self.anger_words if w})

    def wants_person(self, text: str) -> str | None:
        """The hand-off phrase the message contains, if any."""
        return _first(self._handoff, text)

    def angry(self, text: str) -> str | None:
        """The anger or complaint word the message contains, if any."""
        return _first(self._anger, text)

    def thresholds(self) -> Any:
        """kefu.retrieval.Thresholds with the shop's overrides."""
        from dataclasses import replace

        from kefu.retrieval import Thresholds

        overrides = {"answer": self.answer_threshold, "suggest": self.suggest_threshold}
        return replace(Thresholds(), **{k: v for k, v in overrides.items() if v is not None})


def _first(automaton: KeywordAutomaton, text: str) -> str | None:
    for _, word in automaton.iter(normalise(text)):
        return word
    return None


def compile_doc(doc: dict[str, Any] | None) -> Compiled:
    s = msgspec.convert(doc or {}, BotSettings)
    return Compiled(
        enabled=s.enabled,
        greeting=s.greeting,
        answer_threshold=s.answer_threshold,
        suggest_threshold=s.suggest_threshold,
        max_misses=s.max_misses,
        vip_tiers=frozenset(s.vip_tiers),
        low_confidence=s.low_confidence,
        texts={k: getattr(s, k) or v for k, v in DEFAULT_TEXTS.items()},
        handoff_phrases=tuple(
            s.handoff_phrases if s.handoff_phrases is not None else DEFAULT_HANDOFF_PHRASES
        ),
        anger_words=tuple(s.anger_words if s.anger_words is not None else DEFAULT_ANGER_WORDS),
    )


DISABLED = compile_doc(None)
_CACHE: VersionedCache[Compiled] = VersionedCache(64)


def compiled(shop_id: str, item: BotSettingsItem | None) -> Compiled:
    """The shop's settings compiled, from this instance's cache while the revision holds."""
    if item is None:
        return DISABLED
    return _CACHE.get(shop_id, int(item.revision or 0), lambda: compile_doc(item.doc))


def clear_cache() -> None:
    _CACHE.clear()


def current(shop_id: str) -> Compiled:
    """The shop's settings in force now (one consistent GetItem; compiled from the cache)."""
    return compiled(shop_id, _item(shop_id))


# --------------------------------------------------------------------------- the endpoint


def _item(shop_id: str) -> BotSettingsItem | None:
    try:
        return BotSettingsItem.get(shop_id, SETTINGS_SK, consistent_read=True)
    except BotSettingsItem.DoesNotExist:
        return None


def _public(item: BotSettingsItem | None) -> dict[str, Any]:
    from kefu.retrieval import Thresholds

    doc = msgspec.to_builtins(msgspec.convert(item.doc if item else {}, BotSettings))
    c = compile_doc(doc)
    defaults = Thresholds()
    return {
        **doc,
        **c.texts,
        "handoff_phrases": list(c.handoff_phrases),
        "anger_words": list(c.anger_words),
        "default_thresholds": {"answer": defaults.answer, "suggest": defaults.suggest},
        "revision": int(item.revision or 0) if item else 0,
        "updated_at": int(item.updated_at) if item and item.updated_at else None,
        "updated_by": item.updated_by if item else None,
    }


def get_settings(actor: StaffActor) -> dict[str, Any]:
    p.require(actor, p.BOT_SETTINGS_MANAGE)
    return _public(_item(actor.shop_id))


def put_settings(actor: StaffActor, body: BotSettings) -> dict[str, Any]:
    """Replace the settings: the document, the revision + 1, the profile's `bot_enabled` and the
    audit record in one transaction. Turning the bot off hands its conversations to people."""
    p.require(actor, p.BOT_SETTINGS_MANAGE)
    from kefu.retrieval import Thresholds

    defaults = Thresholds()
    answer = body.answer_threshold if body.answer_threshold is not None else defaults.answer
    suggest = body.suggest_threshold if body.suggest_threshold is not None else defaults.suggest
    if suggest > answer:
        raise BadRequest(
            f"suggest_threshold ({suggest}) must not be above answer_threshold ({answer})",
            code="invalid_thresholds",
        )
    doc = msgspec.to_builtins(body)
    for key in ("handoff_phrases", "anger_words", "vip_tiers"):
        if doc.get(key) is not None:
            doc[key] = list(dict.fromkeys(w.strip() for w in doc[key] if w.strip()))
    from kefu.tiers.settings import check_tier_ids

    check_tier_ids(actor.shop_id, doc.get("vip_tiers"), where="vip_tiers")
    before = _item(actor.shop_id)
    at = now_ms()
    item = BotSettingsItem(actor.shop_id, SETTINGS_SK)
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action="bot.settings_updated",
                    target_type="bot_settings",
                    target_id=actor.shop_id,
                    before=before.doc if before else None,
                    after=doc,
                    at_ms=at,
                )
            )
            tx.update(
                item,
                [
                    BotSettingsItem.doc.set(doc),
                    BotSettingsItem.enabled.set(1 if body.enabled else 0),
                    BotSettingsItem.revision.add(1),
                    BotSettingsItem.updated_at.set(at),
                    BotSettingsItem.updated_by.set(actor.username),
                ],
            )
            tx.update(
                ShopProfile(actor.shop_id, PROFILE),
                [ShopProfile.bot_enabled.set(body.enabled)],
                condition=ShopProfile.shop_id.exists(),
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 2):  # puts first (audit), then the settings, then the profile
            raise NotFound(f"unknown shop {actor.shop_id!r}", code="shop_not_found") from None
        raise
    from kefu.shops import clear_cache as clear_shops

    clear_shops()  # this instance at least sees the change at once (others within a minute)
    out = _public(_item(actor.shop_id))
    if before is not None and before.enabled and not body.enabled:
        from kefu.bot.handoff import release_all

        out["handed_off"] = release_all(actor.shop_id, compile_doc(doc).texts["handoff_text"])
    return out


caches.register("kefu.bot.settings", clear_cache)
