"""The learning loop's reports (docs/bot-learning.md): which knowledge-base entries earn their
keep, from the entries' hit and feedback counters."""

from __future__ import annotations

from typing import Any

from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.bot.learning import DAY_MS, window_days
from kefu.ids import now_ms
from kefu.knowledge import entries
from kefu.storage.knowledge import KbEntry


def _shop_entries(shop_id: str) -> list[KbEntry]:
    """Every live entry of the shop: one paginated Query (kefu.knowledge.entries)."""
    live = KbEntry.deleted_at.does_not_exist()
    return list(entries.iter_entries(shop_id, filter_condition=live))


def _helpfulness(helpful: int, unhelpful: int) -> float | None:
    rated = helpful + unhelpful
    return round(helpful / rated, 4) if rated else None


def _entry_row(entry: KbEntry) -> dict[str, Any]:
    hits, helpful, unhelpful = (int(v or 0) for v in (entry.hits, entry.helpful, entry.unhelpful))
    return {
        "entry_id": entry.entry_id,
        "question": entry.question,
        "category": entry.category,
        "enabled": bool(entry.enabled),
        "hits": hits,
        "helpful": helpful,
        "unhelpful": unhelpful,
        "helpfulness": _helpfulness(helpful, unhelpful),
        "last_hit_at": int(entry.last_hit_at) if entry.last_hit_at is not None else None,
        "created_at": int(entry.created_at) if entry.created_at is not None else None,
    }


def entry_report(actor: StaffActor) -> dict[str, Any]:
    """Every entry of the shop with its hits and the customers' feedback, most hit first."""
    p.require(actor, p.BOT_INSIGHTS)
    rows = [_entry_row(e) for e in _shop_entries(actor.shop_id) if e.question is not None]
    rows.sort(key=lambda r: (-r["hits"], -(r["last_hit_at"] or 0), r["entry_id"]))
    helpful = sum(r["helpful"] for r in rows)
    unhelpful = sum(r["unhelpful"] for r in rows)
    return {
        "entries": rows,
        "totals": {
            "entries": len(rows),
            "hits": sum(r["hits"] for r in rows),
            "helpful": helpful,
            "unhelpful": unhelpful,
            "helpfulness": _helpfulness(helpful, unhelpful),
        },
    }


def unused_entries(actor: StaffActor, days: int = 30) -> dict[str, Any]:
    """Enabled entries the bot has not answered with in `days` days (or ever, if they are older
    than that): candidates to retire or to reword. Never-hit entries first, then the longest
    unused."""
    p.require(actor, p.BOT_INSIGHTS)
    days = window_days(days)
    since = now_ms() - days * DAY_MS
    rows = []
    for entry in _shop_entries(actor.shop_id):
        if entry.question is None or not entry.enabled:
            continue
        row = _entry_row(entry)
        last = row["last_hit_at"]
        if last is not None and last >= since:
            continue
        if last is None and (row["created_at"] or 0) >= since:
            continue  # too new to judge
        rows.append({**row, "never_hit": last is None})
    rows.sort(key=lambda r: (r["last_hit_at"] or 0, r["created_at"] or 0, r["entry_id"]))
    return {"entries": rows, "days": days, "since": since}
