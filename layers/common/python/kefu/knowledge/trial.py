"""Try the bot": what the published knowledge base would answer to a question, read-only.

The console's try box asks this after POST /v1/bot/keyword-rules/test (keyword rules run before
the knowledge base in a bot turn): the same search, merge and thresholds as the bot turn
(kefu.bot.planner.Planner.knowledge), on the shop's and its mall's published indexes, with the
shop's thresholds. Nothing is written: no hit counted, no miss recorded, no conversation state.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest
from kefu.ids import now_ms
from kefu.knowledge.common import load_head


class KbTrial(msgspec.Struct, forbid_unknown_fields=True):
    text: str


MAX_TEXT = 500


def try_question(actor: StaffActor, req: KbTrial) -> dict[str, Any]:
    """`outcome`: answer (the entry's replies), suggest (the choices the bot would offer) or
    none (the bot would apologise or hand off, per the shop's settings); the top candidates
    with their scores either way, and the published versions searched."""
    from kefu.bot.planner import _Verbatim
    from kefu.bot.settings import current
    from kefu.bot.templates import render_replies
    from kefu.knowledge.published import entries_by_id, load_index
    from kefu.retrieval import decide, merge_hits
    from kefu.shops import mall_of
    from kefu.storage.knowledge import platform_scope

    p.require(actor, p.KNOWLEDGE_READ)
    text = req.text.strip()
    if not text or len(text) > MAX_TEXT:
        raise BadRequest(f"text must be 1-{MAX_TEXT} characters", code="validation_error")
    at = now_ms()
    mall = mall_of(actor.shop_id)
    scopes = [actor.shop_id, *([platform_scope(mall)] if mall else [])]
    scope_of: dict[str, str] = {}
    lists = []
    versions: dict[str, int | None] = {}
    for scope in scopes:
        head = load_head(scope)
        version = int(head.published_version) if head.published_version else None
        versions["shop" if scope == actor.shop_id else "platform"] = version
        index = load_index(scope, version, head.index_key)
        if index is None:
            continue
        hits = index.search(text, k=3)
        for h in hits:
            scope_of.setdefault(h.entry_id, scope)
        lists.append(hits)
    merged = merge_hits(*lists, k=3) if lists else []
    thresholds = current(actor.shop_id).thresholds()
    decision = decide(merged, thresholds)
    found: dict[str, dict[str, Any]] = {}
    for scope in scopes:
        ids = [h.entry_id for h in merged if scope_of[h.entry_id] == scope]
        found.update(entries_by_id(scope, ids, at_ms=at))
    candidates = [
        {
            "entry_id": h.entry_id,
            "scope": "shop" if scope_of[h.entry_id] == actor.shop_id else "platform",
            "question": found[h.entry_id]["question"],
            "score": round(float(h.score), 4),
        }
        for h in merged
        if h.entry_id in found
    ]
    outcome, replies = "none", []
    top = candidates[0] if candidates else None
    if decision.outcome == "answer" and top and top["entry_id"] == decision.hits[0].entry_id:
        outcome = "answer"
        replies = render_replies(found[top["entry_id"]].get("answer") or [], _Verbatim())
    elif decision.outcome in ("answer", "suggest") and any(
        c["score"] >= thresholds.suggest for c in candidates
    ):
        outcome = "suggest"
    return {
        "outcome": outcome,
        "replies": replies,
        "candidates": candidates,
        "thresholds": {"answer": thresholds.answer, "suggest": thresholds.suggest},
        "published_versions": versions,
    }
