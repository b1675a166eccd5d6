"""The bot turn's planner (kefu.bot.turn): from the snapshot, what to say, what to remember and
what to count, in the order the turn's steps run (docs/bot.md). Writes nothing: reads only what
a step needs beyond the snapshot (the customer's orders, the entries answered from)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kefu.bot import handoff as handoffs
from kefu.bot import order_answers
from kefu.bot.plan import (
    REJECTION_EXACT,
    REJECTIONS,
    THANKS,
    THANKS_REPLY,
    Plan,
    parse_choice,
    says,
    text_of,
)
from kefu.bot.settings import Compiled, compiled
from kefu.bot.snapshot import Snapshot, entries
from kefu.conversations.content import preview
from kefu.events_catalog import MessageReceived

STRUCTURED_CHOICES = ("app", "h5")  # clients that render tappable choices


class Variables(Mapping):
    """The template variables of keyword-rule replies, looked up only when a reply uses them
    (the latest order costs a Query; the shop's name comes from the cached profile)."""

    def __init__(self, turn: Planner) -> None:
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


class Planner:
    """Plans one turn from the snapshot: what to say, what to remember, what to count."""

    def __init__(self, shop_id: str, data: MessageReceived, snap: Snapshot, at: int) -> None:
        assert snap.conv is not None
        self.shop_id = shop_id
        self.data = data
        self.snap = snap
        self.conv = snap.conv
        self.customer = snap.customer
        self.settings: Compiled = compiled(shop_id, snap.settings)
        self.at = at
        self.state: dict[str, Any] = dict(self.conv.bot_state or {})
        self.content = data.content or {}
        self.kind = data.type
        self.text = text_of(self.kind, self.content)
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
        greet = self.data.new_conversation and not self.state.get("greeted")
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
        if says(self.text, REJECTIONS, REJECTION_EXACT):
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
        if says(self.text, THANKS):
            self.plan.feedback = (scope, entry_id, True)
            self.say(THANKS_REPLY)
            self.outcome("thanks", entry_id=entry_id, scope=scope)
            return True
        return False

    def keyword_rule(self) -> bool:
        if not self.snap.rules_revision:
            return False
        from kefu.bot.keyword_rules_matcher import matcher_for
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
