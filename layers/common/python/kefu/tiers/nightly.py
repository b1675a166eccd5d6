"""The nightly pass: recency decays without events, so every scored customer is re-scored once
a night (docs/tiers.md, "The nightly pass", for its cost).

Never a Scan: per shop (the shop registry index), the shop's customers are read with a Query on
the partition, `begins_with CUSTOMER#`, projected to what the tiers read, in chunks. After each
chunk the Query's cursor is saved on the shop's `TIERS#pass` item, so a run cut short by the
function's timeout resumes where it stopped at the next fire (the schedule fires several times
a night; a finished run costs one GetItem per shop). A run is named by the shop's local date and
its settings revision: new settings start a new run the next night.

Only customers with a purchase summary are scored (one without has nothing to decay); a
customer is written only when a score, the tier or the level changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from kefu.ids import now_ms
from kefu.storage.shops import ShopProfile
from kefu.storage.tiers import PASS_SK, TierPass, customers_chunk
from kefu.tiers import settings as tier_settings
from kefu.tiers.recompute import apply

log = logging.getLogger("kefu.tiers.nightly")
CHUNK = 500  # customers per Query (a page stays under 1 MB of ~2 KB items)
ZONE = "Asia/Shanghai"


def run_key(now: int, revision: int) -> str:
    day = dt.datetime.fromtimestamp(now / 1000, tz=ZoneInfo(ZONE)).date().isoformat()
    return f"{day}:r{revision}"


def run(now: int | None = None, time_left: Callable[[], bool] = lambda: True) -> dict[str, int]:
    """Every shop's pass, each resumed where it stopped; returns counts for the log."""
    now = now if now is not None else now_ms()
    totals = {"shops": 0, "finished": 0, "read": 0, "changed": 0}
    for shop in ShopProfile.shop_registry.query("shops"):
        if not time_left():
            break
        outcome = run_shop(shop.shop_id, now, time_left)
        totals["shops"] += 1
        totals["finished"] += int(outcome["done"])
        totals["read"] += outcome["read"]
        totals["changed"] += outcome["changed"]
    return totals


def _progress(shop_id: str) -> TierPass | None:
    try:
        return TierPass.get(shop_id, PASS_SK, consistent_read=True)
    except TierPass.DoesNotExist:
        return None


def run_shop(shop_id: str, now: int, time_left: Callable[[], bool] = lambda: True) -> dict:
    settings = tier_settings.load(shop_id)
    key = run_key(now, settings.revision)
    progress = _progress(shop_id)
    if progress is not None and progress.run_key == key and progress.done:
        return {"done": True, "read": 0, "changed": 0}
    if progress is None or progress.run_key != key:
        progress = TierPass(shop_id, PASS_SK, run_key=key, started_at=now, read=0, changed=0)
        progress.cursor = None
    cursor = progress.cursor
    read = changed = 0
    cause = f"nightly:{key}"
    while True:
        customers, cursor = customers_chunk(shop_id, cursor, CHUNK)
        chunk_changed = 0
        for customer in customers:
            if customer.orders_count is None:
                continue  # no purchase summary yet: nothing to score or decay
            if apply(shop_id, customer, settings, now=now, cause=cause) is not None:
                chunk_changed += 1
        read += len(customers)
        changed += chunk_changed
        progress.cursor = cursor
        progress.done = cursor is None
        progress.read = int(progress.read or 0) + len(customers)
        progress.changed = int(progress.changed or 0) + chunk_changed
        progress.updated_at = now_ms()
        progress.save()  # the checkpoint: a timeout after this repeats at most one chunk
        if progress.done or not time_left():
            break
    log.info(
        "tier pass",
        extra={"shop_id": shop_id, "run": key, "done": progress.done, "read": read},
    )
    return {"done": bool(progress.done), "read": read, "changed": changed}
