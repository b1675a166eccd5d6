"""The bot turn: what the bot does with one `message.received` (docs/bot.md).

Reads, in ONE BatchGetItem: the conversation (strongly consistent), the customer, the knowledge-
base heads of the shop and of its mall's platform entries (none outside a mall; the mall is read
from the shop's profile, cached in the instance), the bot settings, the keyword-rules head, the
shop's business-hours calendar and this turn's de-duplication item. The published indexes, the
compiled rules, the compiled settings and the entries answered from are cached in the instance per
version/revision, so a warm turn then writes ONE TransactWriteItems: the de-duplication item,
the bot's reply messages, the misses, the conversation (bot_state, and the hand-off when there is
one) guarded by its status still being "bot" and its bot_rev, and the counters.

In order:
  a) not with the bot: silent, except off-hours (queued or assigned): offer once to leave a
     message; the customer's next messages are recorded on a ticket (created once, then comments)
  b) hand-off triggers: asked for a person (phrase or {"action": "handoff"}), anger/complaint
     words, a VIP tier
  c) a choice from the previous suggestion ("2", or its text)
  d) the previous answer rejected ("没用", "答非所问" ...): feedback, a miss, then the other
     candidates or a person; thanks after an answer: feedback
  e) a keyword rule (kefu.bot.keyword_rules) -> its replies, with variables
  f) the customer's orders (kefu.bot.order_answers): where is my parcel, when does it ship, refund
  g) the knowledge base: answer, suggest up to 3, or (low confidence) hand off / apologise

Idempotent: the de-duplication item (RuntimeTable BOTTURN#<shop>#<message id>) is a conditional
put in the turn's transaction; a redelivered event finds it in the BatchGetItem and re-publishes
the turn's events (same ids) instead of doing the turn again. If an agent claims the conversation
while the turn runs, the guard fails and nothing is sent.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError

from kefu import events
from kefu.auth.permissions import has_permission
from kefu.aws import client
from kefu.bot import handoff as handoffs
from kefu.bot import order_answers
from kefu.bot.settings import Compiled, compiled, normalise
from kefu.conversations.content import preview
from kefu.ids import now_ms
from kefu.storage.bot import TURN_TTL_SECONDS, BotSettingsItem, BotTurn
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer
from kefu.storage.tx import condition_failed, old_item, write_transaction

log = logging.getLogger("kefu.bot")

KB_HEAD, SETTINGS, RULES_HEAD = "kb", "settings", "rules"
MAX_ATTEMPTS = 3  # turns of one conversation racing: re-read and plan again
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
STRUCTURED_CHOICES = ("app", "h5")  # clients that render tappable choices
ENTRY_CACHE_SCOPES = 16


@dataclass(frozen=True)
class BotActor:
    """Who the bot is when it records an off-hours message on a ticket (audited as "bot")."""

    shop_id: str
    username: str = "bot"
    role: str = "bot"

    @property
    def actor_id(self) -> str:
        return "bot"

    def can(self, permission: str) -> bool:
        return has_permission(self.role, permission)


# ------------------------------------------------------------------------------------ reading


@dataclass
class Snapshot:
    conv: Conversation | None
    customer: Customer | None
    heads: dict[str, dict[str, Any]]  # scope -> {published_version, index_key, draft_revision}
    settings: BotSettingsItem | None
    rules_revision: int
    calendar: Any  # kefu.tickets.calendar.BusinessCalendar | None (no calendar: always open)
    done: BotTurn | None
    platform: str | None = None  # the partition of the shop's mall's platform entries, if any


def _key(pk: str, sk: str | None = None) -> dict[str, Any]:
    key = {"pk": {"S": pk}}
    if sk is not None:
        key["sk"] = {"S": sk}
    return key


def _number(raw: dict[str, Any], name: str) -> int:
    value = raw.get(name, {}).get("N")
    return int(value) if value is not None else 0


def read(shop_id: str, conversation_id: str, customer_id: str, message_id: str) -> Snapshot:
    """Everything the turn needs, in one BatchGetItem across five tables."""
    from kefu.shops import mall_of
    from kefu.storage.knowledge import platform_scope
    from kefu.storage.workbench import SlaCalendar

    mall = mall_of(shop_id)
    platform = platform_scope(mall) if mall else None
    bot_table = BotSettingsItem.Meta.table_name
    conv_table = Conversation.Meta.table_name
    customer_table = Customer.Meta.table_name
    calendar_table = SlaCalendar.Meta.table_name
    turn_table = BotTurn.Meta.table_name
    wanted = {
        conv_table: {"Keys": [_key(shop_id, conversation_id)], "ConsistentRead": True},
        customer_table: {"Keys": [_key(shop_id, Customer.key(customer_id))]},
        bot_table: {
            "Keys": [
                _key(shop_id, KB_HEAD),
                *([_key(platform, KB_HEAD)] if platform else []),
                _key(shop_id, SETTINGS),
                _key(shop_id, RULES_HEAD),
            ],
            # Not the KB heads' dictionaries (they can be long): only what the turn reads.
            "ProjectionExpression": "#pk, #sk, #pv, #ik, #dr, #rv, #doc, #en",
            "ExpressionAttributeNames": {
                "#pk": "pk",
                "#sk": "sk",
                "#pv": "published_version",
                "#ik": "index_key",
                "#dr": "draft_revision",
                "#rv": "revision",
                "#doc": "doc",
                "#en": "enabled",
            },
        },
        calendar_table: {"Keys": [_key(shop_id, SlaCalendar.key())]},
        turn_table: {"Keys": [_key(BotTurn.key(shop_id, message_id))], "ConsistentRead": True},
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(4):  # unprocessed keys (throttling) are retried, boundedly
        resp = client("dynamodb").batch_get_item(RequestItems=wanted)
        for table, items in resp.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        wanted = resp.get("UnprocessedKeys") or {}
        if not wanted:
            break
    else:
        raise RuntimeError("DynamoDB kept keys unprocessed: the event comes back")
    conv = next(iter(found.get(conv_table, [])), None)
    customer = next(iter(found.get(customer_table, [])), None)
    calendar = next(iter(found.get(calendar_table, [])), None)
    done = next(iter(found.get(turn_table, [])), None)
    heads: dict[str, dict[str, Any]] = {}
    settings = None
    rules_revision = 0
    for raw in found.get(bot_table, []):
        pk, sk = raw["pk"]["S"], raw["sk"]["S"]
        if sk == KB_HEAD:
            heads[pk] = {
                "published_version": _number(raw, "published_version"),
                "index_key": raw.get("index_key", {}).get("S"),
                "draft_revision": _number(raw, "draft_revision"),
            }
        elif sk == SETTINGS:
            settings = BotSettingsItem.from_raw_data(raw)
        elif sk == RULES_HEAD:
            rules_revision = _number(raw, "revision")
    cal = None
    if calendar is not None:
        from kefu.tickets.calendar import from_document

        cal = from_document(SlaCalendar.from_raw_data(calendar).calendar)
    return Snapshot(
        conv=Conversation.from_raw_data(conv) if conv else None,
        customer=Customer.from_raw_data(customer) if customer else None,
        heads=heads,
        settings=settings,
        rules_revision=rules_revision,
        calendar=cal,
        done=BotTurn.from_raw_data(done) if done else None,
        platform=platform,
    )


# ------------------------------------------------------------------------ entries, variables

_entries_lock = threading.Lock()
_entries_cache: dict[str, tuple[int, dict[str, dict[str, Any] | None]]] = {}


def clear_cache() -> None:
    with _entries_lock:
        _entries_cache.clear()


def _usable(entry: dict[str, Any] | None, at: int) -> bool:
    if not entry or entry.get("deleted_at") is not None or not entry.get("enabled"):
        return False
    if entry.get("valid_from") is not None and entry["valid_from"] > at:
        return False
    return entry.get("valid_until") is None or entry["valid_until"] > at


def entries(scope: str, ids: list[str], draft_revision: int, at: int) -> dict[str, dict]:
    """The usable entries among `ids`, from the instance cache while the scope's head has the
    same `draft_revision` (bumped on every entry change), else one BatchGetItem."""
    from kefu.knowledge.published import entries_by_id

    with _entries_lock:
        held = _entries_cache.get(scope)
        if held is None or held[0] != draft_revision:
            held = (draft_revision, {})
            _entries_cache[scope] = held
            while len(_entries_cache) > ENTRY_CACHE_SCOPES:
                _entries_cache.pop(next(iter(_entries_cache)))
        missing = [i for i in dict.fromkeys(ids) if i not in held[1]]
    if missing:
        got = entries_by_id(scope, missing, at_ms=at, usable_only=False)
        with _entries_lock:
            for entry_id in missing:
                held[1][entry_id] = got.get(entry_id)
    return {i: held[1][i] for i in ids if _usable(held[1].get(i), at)}  # type: ignore[misc]


class Variables(Mapping):
    """The template variables of keyword-rule replies, looked up only when a reply uses them
    (the latest order costs a Query; the shop's name comes from the cached profile)."""

    def __init__(self, turn: Builder) -> None:
        self._turn = turn

    def __getitem__(self, key: str) -> str:
        turn = self._turn
        if key == "customer_name":
            value = turn.customer.display_name if turn.customer else None
        elif key == "shop_name":
            from kefu.shops import get_shop

            value = get_shop(turn.shop_id).name
        else:
            value = order_answers.latest_variables(turn.orders()).get(key)
        if not value:
            raise KeyError(key)
        return str(value)

    def __iter__(self) -> Iterator[str]:
        from kefu.bot.templates import BOT_VARIABLES

        return iter(BOT_VARIABLES)

    def __len__(self) -> int:
        from kefu.bot.templates import BOT_VARIABLES

        return len(BOT_VARIABLES)


class _Verbatim(Mapping):
    """Knowledge-base answers are sent as written: a `{...}` in them is not a variable."""

    def __getitem__(self, key: str) -> str:
        return "{" + key + "}"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# ------------------------------------------------------------------------------- the plan


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


def _says(text: str, phrases: tuple[str, ...], exact: tuple[str, ...] = ()) -> bool:
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


def _text_of(kind: str | None, content: Mapping[str, Any]) -> str:
    if kind == "text":
        return str(content.get("text") or "").strip()
    if kind in ("product_card", "order_card"):
        return str(content.get("title") or content.get("order_id") or "").strip()
    return ""


class Builder:
    """Plans one turn from the snapshot: what to say, what to remember, what to count."""

    def __init__(self, shop_id: str, data: dict[str, Any], snap: Snapshot, at: int) -> None:
        assert snap.conv is not None
        self.shop_id = shop_id
        self.data = data
        self.snap = snap
        self.conv = snap.conv
        self.customer = snap.customer
        self.settings: Compiled = compiled(shop_id, snap.settings)
        self.at = at
        self.state: dict[str, Any] = dict(self.conv.bot_state or {})
        self.content = data.get("content") or {}
        self.kind = data.get("type")
        self.text = _text_of(self.kind, self.content)
        self.plan = Plan("silent", self.state, self.conv.status, at)
        self._orders: list[dict[str, Any]] | None = None
        # An order question from a customer with no orders: said only if the knowledge base
        # has nothing better (order_question).
        self._no_orders: str | None = None

    # -- helpers

    def orders(self) -> list[dict[str, Any]]:
        """The customer's recent orders, newest first: one Query, once per turn."""
        if self._orders is None:
            from kefu.orders import recent_orders

            self._orders = recent_orders(self.shop_id, self.conv.customer_id, limit=10)
        return self._orders

    def say(self, text: str, *, choices: list[str] | None = None) -> None:
        content: dict[str, Any] = {"text": text}
        if choices and self.conv.channel in STRUCTURED_CHOICES:
            content["choices"] = [{"index": i, "text": c} for i, c in enumerate(choices, 1)]
        self.send([{"type": "text", "content": content}])

    def send(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            self.plan.replies.append(m)
            c = m["content"]
            handoffs.remember(self.state, "bot", c.get("text") or preview(m["type"], c), self.at)

    def off_hours(self) -> bool:
        from kefu.tickets.calendar import is_open_ms

        return self.snap.calendar is not None and not is_open_ms(self.at, self.snap.calendar)

    def outcome(self, name: str, **fields: Any) -> None:
        self.plan.outcome = name
        for key, value in fields.items():
            setattr(self.plan, key, value)

    def answered(self) -> None:
        self.state["misses"] = 0

    def miss(self, reason: str, best: dict[str, Any] | None) -> None:
        self.plan.misses.append(
            {
                "conversation_id": self.conv.conversation_id,
                "customer_id": self.conv.customer_id,
                "question": self.text or preview(self.kind or "text", self.content) or "?",
                "reason": reason,
                "best_entry_id": best.get("entry_id") if best else None,
                "best_score": best.get("score") if best else None,
                "best_scope": best.get("scope") if best else None,
                "at_ms": self.at,
            }
        )

    def hand_off(self, reason: str, intent: str | None = None) -> None:
        """Hand off in this turn's transaction: the record (before the bot's last words enter
        the transcript), the customer told, `handoff.requested` announced after the commit."""
        intent = intent or self.state.get("intent")
        record = handoffs.record(reason, intent, self.state, self.at)
        if self.off_hours() and not self.state.get("leave_message_offered"):
            # Nobody is at work: say so now, and the next messages become a ticket.
            self.state["leave_message_offered"] = True
            self.say(self.settings.texts["off_hours_text"])
        else:
            self.say(self.settings.texts["handoff_text"])
        self.plan.handoff = record
        self.plan.question = handoffs.last_question(self.state)
        self.outcome("handoff")

    # -- the steps

    def run(self) -> Plan | None:
        if self.conv.status != "bot":
            return self.off_hours_message()
        handoffs.remember(
            self.state, "customer", self.text or preview(self.kind or "text", self.content), self.at
        )
        choices = self.state.pop("choices", None)
        last = self.state.pop("last_answer", None)
        alternatives = self.state.pop("alternatives", None) or []
        if not self.settings.enabled:
            self.hand_off("disabled")
            return self.plan
        greet = self.data.get("new_conversation") and not self.state.get("greeted")
        if greet and self.settings.greeting:
            self.state["greeted"] = True
            self.say(self.settings.greeting)
        if self.triggers():
            return self.plan
        if choices and self.choice(choices):
            return self.plan
        if last and self.feedback(last, alternatives):
            return self.plan
        if self.text and self.keyword_rule():
            return self.plan
        if self.text and self.order_question():
            return self.plan
        self.knowledge()
        return self.plan

    def triggers(self) -> bool:
        if self.content.get("action") == "handoff" or (
            self.text and self.settings.wants_person(self.text)
        ):
            self.hand_off("requested")
            return True
        if self.text and self.settings.angry(self.text):
            self.hand_off("anger")
            return True
        tier = self.customer.tier if self.customer else None
        if tier and tier in self.settings.vip_tiers:
            self.hand_off("vip")
            return True
        return False

    def choice(self, choices: dict[str, Any]) -> bool:
        items = choices.get("items") or []
        index = parse_choice(self.text, items)
        if index is None:
            return False
        item = items[index]
        if choices.get("kind") == "order":
            intent = choices.get("intent") or order_answers.LOGISTICS
            order = next((o for o in self.orders() if o["order_id"] == item["id"]), None)
            if order is None:
                return False
            self.say(order_answers.answer(intent, order))
            self.state["intent"] = order_answers.INTENT_LABELS.get(intent, intent)
            self.answered()
            self.outcome("order")
            return True
        scope = item.get("scope") or self.shop_id
        if scope not in (self.shop_id, self.snap.platform):
            return False  # offered from a mall the shop has since left
        head = self.snap.heads.get(scope) or {}
        found = entries(scope, [item["id"]], head.get("draft_revision", 0), self.at)
        entry = found.get(item["id"])
        if entry is None:
            return False
        self.answer(scope, entry, item.get("score"), question=item.get("label"))
        return True

    def feedback(self, last: dict[str, Any], alternatives: list[dict[str, Any]]) -> bool:
        scope, entry_id = last.get("scope"), last.get("entry_id")
        if not (scope and entry_id and self.text):
            return False
        if _says(self.text, REJECTIONS, REJECTION_EXACT):
            self.plan.feedback = (scope, entry_id, False)
            self.plan.misses.append(
                {
                    "conversation_id": self.conv.conversation_id,
                    "customer_id": self.conv.customer_id,
                    "question": last.get("question") or self.text,
                    "reason": "rejected",
                    "best_entry_id": entry_id,
                    "best_score": last.get("score"),
                    "best_scope": scope,
                    "at_ms": self.at,
                }
            )
            self.state["misses"] = int(self.state.get("misses") or 0) + 1
            others = [a for a in alternatives if a.get("id") != entry_id]
            if others:
                self.suggest(others, prompt="抱歉没能帮到您。您是不是想问：")
                self.outcome("suggest")
            else:
                self.hand_off("rejected", last.get("entry_question"))
            self.plan.entry_id, self.plan.scope = entry_id, scope
            return True
        if _says(self.text, THANKS):
            self.plan.feedback = (scope, entry_id, True)
            self.say(THANKS_REPLY)
            self.outcome("thanks", entry_id=entry_id, scope=scope)
            return True
        return False

    def keyword_rule(self) -> bool:
        if not self.snap.rules_revision:
            return False
        from kefu.bot.keyword_rules import matcher_for
        from kefu.bot.templates import render_replies

        matcher = matcher_for(self.shop_id, self.snap.rules_revision)
        rule = matcher.match(self.text, self.conv.channel, self.at, calendar=self.snap.calendar)
        if rule is None:
            return False
        replies = render_replies(rule.replies or [], Variables(self))
        if not replies:
            return False
        self.send(replies)
        self.state["intent"] = rule.name
        self.answered()
        self.outcome("rule", rule_id=rule.rule_id)
        return True

    def order_question(self) -> bool:
        intent = order_answers.detect_intent(self.text)
        if intent is None:
            return False
        self.state["intent"] = order_answers.INTENT_LABELS[intent]
        reply = order_answers.reply_for(intent, self.orders())
        if reply.kind == "choose":
            self.state["choices"] = {"kind": "order", "intent": intent, "items": reply.choices}
            self.say(reply.text, choices=[c["label"] for c in reply.choices])
            self.outcome("order_choice")
        elif reply.kind == "none":
            # Nothing to look up: "下单几天发货" from someone without orders is a question about
            # the shop's policy, the knowledge base's to answer; "no orders found" only if it
            # has nothing (knowledge()).
            self._no_orders = reply.text
            return False
        else:
            self.say(reply.text)
            self.outcome("order")
        self.answered()
        return True

    def knowledge(self) -> None:
        from kefu.knowledge.published import load_index
        from kefu.retrieval import decide, merge_hits

        if not self.text:
            self.low(None)
            return
        scope_of: dict[str, str] = {}
        lists = []
        for scope in (self.shop_id, self.snap.platform):
            if scope is None:  # a shop outside any mall has no platform entries
                continue
            head = self.snap.heads.get(scope) or {}
            index = load_index(scope, head.get("published_version"), head.get("index_key"))
            if index is None:
                continue
            hits = index.search(self.text, k=3)
            for h in hits:
                scope_of.setdefault(h.entry_id, scope)
            lists.append(hits)
        merged = merge_hits(*lists, k=3) if lists else []
        thresholds = self.settings.thresholds()
        decision = decide(merged, thresholds)
        # Entries are read only where they can be shown: the best, and those good enough to
        # offer as choices (a weak runner-up would cost a read on every warm answer).
        worth = [h for i, h in enumerate(merged) if i == 0 or h.score >= thresholds.suggest]
        candidates = self._usable_hits(worth, scope_of)
        best = candidates[0] if candidates else None
        if decision.outcome == "answer" and best and best["id"] == decision.hits[0].entry_id:
            self.answer(best["scope"], best["entry"], best["score"], question=self.text)
            # If the customer rejects the answer, these are offered before a person.
            self.state["alternatives"] = [
                self._choice(c) for c in candidates[1:] if c["score"] >= thresholds.suggest
            ]
            return
        suggestible = [c for c in candidates if c["score"] >= thresholds.suggest]
        if decision.outcome in ("answer", "suggest") and suggestible:
            # The likeliest topic is what the agent sees as the intent if this ends in a handoff.
            top = suggestible[0]["entry"]
            self.state["intent"] = top.get("category") or top.get("question")
            self.suggest([self._choice(c) for c in suggestible])
            self.miss("unanswered", self._best(suggestible[0]))
            self.outcome("suggest", score=suggestible[0]["score"])
            return
        if self._no_orders:
            self.say(self._no_orders)
            self.outcome("no_orders")
            self.answered()
            return
        self.low(self._best(best) if best else self._hit_best(merged, scope_of))

    def _usable_hits(self, hits: list[Any], scope_of: dict[str, str]) -> list[dict[str, Any]]:
        by_scope: dict[str, list[str]] = {}
        for h in hits:
            by_scope.setdefault(scope_of[h.entry_id], []).append(h.entry_id)
        found: dict[str, dict[str, Any]] = {}
        for scope, ids in by_scope.items():
            head = self.snap.heads.get(scope) or {}
            found.update(entries(scope, ids, head.get("draft_revision", 0), self.at))
        return [
            {"id": h.entry_id, "scope": scope_of[h.entry_id], "score": h.score, "entry": e}
            for h in hits
            if (e := found.get(h.entry_id)) is not None
        ]

    @staticmethod
    def _choice(c: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": c["id"],
            "scope": c["scope"],
            "score": round(float(c["score"]), 4),
            "label": c["entry"]["question"],
        }

    @staticmethod
    def _best(c: dict[str, Any]) -> dict[str, Any]:
        return {"entry_id": c["id"], "scope": c["scope"], "score": float(c["score"])}

    @staticmethod
    def _hit_best(hits: list[Any], scope_of: dict[str, str]) -> dict[str, Any] | None:
        if not hits:
            return None
        h = hits[0]
        return {"entry_id": h.entry_id, "scope": scope_of.get(h.entry_id), "score": h.score}

    def answer(
        self, scope: str, entry: dict[str, Any], score: float | None, *, question: str | None
    ) -> None:
        from kefu.bot.templates import render_replies

        messages = render_replies(entry.get("answer") or [], _Verbatim())
        if not messages:
            self.low({"entry_id": entry["entry_id"], "scope": scope, "score": score})
            return
        self.send(messages)
        self.state["last_answer"] = {
            "entry_id": entry["entry_id"],
            "scope": scope,
            "score": score,
            "question": question or self.text,
            "entry_question": entry.get("question"),
        }
        self.state["intent"] = entry.get("category") or entry.get("question")
        self.answered()
        self.plan.hit = (scope, entry["entry_id"])
        self.outcome("answer", entry_id=entry["entry_id"], scope=scope, score=score)

    def suggest(self, items: list[dict[str, Any]], prompt: str = "您是不是想问：") -> None:
        items = items[:3]
        lines = [f"{i}. {item['label']}" for i, item in enumerate(items, 1)]
        self.say(
            prompt + "\n" + "\n".join(lines) + "\n请回复序号，或换个说法问我～",
            choices=[item["label"] for item in items],
        )
        self.state["choices"] = {"kind": "entry", "items": items}

    def low(self, best: dict[str, Any] | None) -> None:
        """No answer: a miss; hand off, or apologise until max_misses in a row."""
        self.miss("unanswered", best)
        misses = int(self.state.get("misses") or 0) + 1
        self.state["misses"] = misses
        self.plan.score = best.get("score") if best else None
        intent = self.state.get("intent")
        if best and not intent:
            head = self.snap.heads.get(best.get("scope") or "") or {}
            known = entries(
                best["scope"], [best["entry_id"]], head.get("draft_revision", 0), self.at
            ).get(best["entry_id"])
            intent = known.get("category") or known.get("question") if known else None
        if self.settings.low_confidence == "handoff":
            self.hand_off("low_confidence", intent)
        elif misses >= self.settings.max_misses:
            self.hand_off("misses", intent)
        else:
            self.say(self.settings.texts["fallback_text"])
            self.outcome("fallback", score=self.plan.score)

    # -- off-hours, when people have the conversation

    def off_hours_message(self) -> Plan | None:
        conv = self.conv
        if conv.status not in ("queued", "assigned") or not self.settings.enabled:
            return None
        if not self.off_hours():
            return None
        if not self.state.get("leave_message_offered"):
            self.state["leave_message_offered"] = True
            self.say(self.settings.texts["off_hours_text"])
            self.outcome("off_hours_offer")
            return self.plan
        self.outcome("message_recorded")
        return self.plan


# ----------------------------------------------------------------------------------- writing


def _event_doc(e: events.DomainEvent) -> dict[str, Any]:
    return {"type": e.type, "event_id": e.event_id, "data": e.data, "occurred_at": e.occurred_at}


def _republish(shop_id: str, docs: list[dict[str, Any]]) -> None:
    if docs:
        events.publish(
            *(
                events.DomainEvent(d["type"], shop_id, d["event_id"], d["data"], d["occurred_at"])
                for d in docs
            )
        )


def _record_ticket(shop_id: str, conv: Conversation, text: str, side: dict[str, Any]) -> bool:
    """An off-hours message on the conversation's ticket: the ticket is created from the
    conversation once (its last messages as context), later messages are comments. Done once
    per turn however often the turn is re-planned. True when a ticket was created now."""
    from kefu.tickets import service as tickets

    if side.get("ticket_done"):
        return bool(side.get("created"))
    actor = BotActor(shop_id)
    ticket_id = (conv.bot_state or {}).get("ticket_id")
    body = text or "[非文字消息]"
    if ticket_id:
        tickets.add_comment(actor, ticket_id, tickets.NewComment(body=body[:2000]))
    else:
        created = tickets.create_from_conversation(
            actor,
            conv.conversation_id,
            tickets.ConversationTicket(subject=f"非工作时间留言：{body[:60]}", type="inquiry"),
        )
        side["ticket_id"] = created["ticket_id"]
        side["created"] = True
    side["ticket_done"] = True
    return bool(side.get("created"))


def _commit(shop_id: str, data: dict[str, Any], snap: Snapshot, plan: Plan) -> str:
    """One TransactWriteItems. Returns done | duplicate | taken | stale."""
    from kefu.conversations.service import (
        outgoing_actions,
        outgoing_message,
        reply_created_event,
    )

    conv = snap.conv
    assert conv is not None
    at = plan.at
    inbound = data["message_id"]
    msgs = [
        outgoing_message(
            conv,
            r["type"],
            r["content"],
            sender_type="bot",
            sender_id="bot",
            at=at + i,
            message_id=f"{inbound}b{i}",
        )
        for i, r in enumerate(plan.replies)
    ]
    published = [reply_created_event(conv, m) for m in msgs]
    if plan.handoff is not None:
        published.append(handoffs.event(conv, plan.handoff, plan.question))
    if msgs:
        published.append(
            events.DomainEvent(
                events.BOT_REPLIED,
                shop_id,
                f"{events.BOT_REPLIED}:{inbound}",
                {
                    "conversation_id": conv.conversation_id,
                    "message_id": inbound,
                    "outcome": plan.outcome,
                    "entry_id": plan.entry_id,
                    "scope": plan.scope,
                    "rule_id": plan.rule_id,
                    "score": round(float(plan.score), 4) if plan.score is not None else None,
                    "handoff_reason": plan.handoff["reason"] if plan.handoff else None,
                },
                occurred_at=at,
            )
        )
    rev = int(conv.bot_rev or 0)
    actions = [Conversation.bot_state.set(plan.state), Conversation.bot_rev.set(rev + 1)]
    if msgs:
        last = plan.replies[-1]
        actions += outgoing_actions(
            last["type"], last["content"], at + len(msgs) - 1, count=len(msgs)
        )
    if plan.handoff is not None:
        actions += handoffs.actions(conv, plan.handoff, at)
    guard = (Conversation.status == plan.expected_status) & (
        Conversation.bot_rev == rev if rev else Conversation.bot_rev.does_not_exist()
    )
    turn = BotTurn(
        BotTurn.key(shop_id, inbound),
        conversation_id=conv.conversation_id,
        outcome=plan.outcome,
        events=[_event_doc(e) for e in published],
        at=at,
        expires_at=at // 1000 + TURN_TTL_SECONDS,
    )
    tx = write_transaction()
    try:
        with tx:
            tx.save(turn, condition=BotTurn.pk.does_not_exist(), return_values="ALL_OLD")
            for m in msgs:
                tx.save(m)
            if plan.misses:
                from kefu.bot.learning import record_miss

                for miss in plan.misses:
                    record_miss(tx, shop_id, **miss)
            tx.update(conv, actions, condition=guard, return_values="ALL_OLD")
            if plan.hit is not None:
                from kefu.knowledge.published import add_hit

                add_hit(tx, plan.hit[0], plan.hit[1], at)
            if plan.rule_id:
                from kefu.bot import keyword_rules

                keyword_rules.add_hit(tx, shop_id, plan.rule_id, at)
            if plan.feedback is not None:
                from kefu.knowledge.published import add_feedback

                add_feedback(tx, plan.feedback[0], plan.feedback[1], plan.feedback[2])
    except TransactWriteError as exc:
        # Positions as sent: condition checks, deletes, puts (the turn item first), updates
        # (the conversation first).
        first_put = len(tx._condition_check_items) + len(tx._delete_items)
        conv_index = first_put + len(tx._put_items)
        if condition_failed(exc, first_put):
            raw = old_item(exc, first_put) or {}
            import json

            _republish(shop_id, json.loads(raw.get("events", {}).get("S") or "[]"))
            return "duplicate"
        if condition_failed(exc, conv_index):
            status = (old_item(exc, conv_index) or {}).get("status", {}).get("S")
            return "stale" if status == plan.expected_status else "taken"
        if any(
            r is not None and r.code == "TransactionConflict"
            for r in exc.cancellation_reasons or []
        ):
            return "stale"
        raise
    events.publish(*published)
    return "done"


def handle(detail: dict[str, Any]) -> dict[str, Any]:
    """One `message.received`. Returns what to log about the outcome."""
    if detail.get("type") != events.MESSAGE_RECEIVED:
        return {"skipped": detail.get("type")}
    shop_id, data = detail["shop_id"], detail["data"]
    side: dict[str, Any] = {}  # side effects already done (the off-hours ticket)
    for _ in range(MAX_ATTEMPTS):
        snap = read(shop_id, data["conversation_id"], data["customer_id"], data["message_id"])
        if snap.done is not None:
            _republish(shop_id, snap.done.events or [])
            return {"duplicate": True, "outcome": snap.done.outcome}
        if snap.conv is None:
            return {"skipped": "no conversation"}
        at = max(now_ms(), int(detail.get("occurred_at") or 0) + 1)
        builder = Builder(shop_id, data, snap, at)
        plan = builder.run()
        if plan is None:
            return {"skipped": snap.conv.status}
        if plan.outcome == "message_recorded":
            if _record_ticket(shop_id, snap.conv, builder.text, side):
                builder.say(builder.settings.texts["recorded_text"])
            plan.state["ticket_id"] = side.get("ticket_id") or plan.state.get("ticket_id")
        result = _commit(shop_id, data, snap, plan)
        if result == "stale":
            continue
        if result == "taken":
            return {"skipped": "taken over meanwhile", "outcome": plan.outcome}
        return {
            "outcome": plan.outcome,
            "duplicate": result == "duplicate",
            "replies": len(plan.replies),
            "handoff": plan.handoff["reason"] if plan.handoff else None,
        }
    raise RuntimeError("the conversation's bot state kept changing: the event comes back")
