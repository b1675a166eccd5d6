"""What a bot turn reads (kefu.bot.turn): one BatchGetItem across five tables, and the knowledge
entries it answers from, cached in the instance per scope and draft revision."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from kefu import caches
from kefu.aws import client
from kefu.storage.bot import BotSettingsItem, BotTurn
from kefu.storage.conversations import Conversation
from kefu.storage.customers import Customer

KB_HEAD, SETTINGS, RULES_HEAD = "kb", "settings", "rules"
ENTRY_CACHE_SCOPES = 16


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
    """Everything the turn needs, in one BatchGetItem across five tables. The knowledge-base
    heads are the shop's and its mall's platform entries' (none outside a mall; the mall is read
    from the shop's profile, cached in the instance)."""
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


# -------------------------------------------------------------------------------- entries

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


caches.register("kefu.bot.snapshot", clear_cache)
