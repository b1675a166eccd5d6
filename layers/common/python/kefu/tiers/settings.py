"""The shop's tier settings: GET/PUT /v1/tier-settings (owners and supervisors; every change
audited), their compiled form cached per revision, and the check other capabilities make that a
tier id they are given is one of the shop's (routing rules, the bot's vip_tiers).
"""

from __future__ import annotations

from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu import caches
from kefu.audit import StaffChanges
from kefu.auth import permissions as p
from kefu.auth.actors import StaffActor
from kefu.errors import BadRequest, Conflict
from kefu.ids import now_ms
from kefu.matching import VersionedCache
from kefu.storage.tiers import SETTINGS_SK, TierSettingsItem
from kefu.storage.tx import condition_failed, write_transaction
from kefu.tiers.rules import (
    DEFAULTS,
    UNSCORED,
    CompiledSettings,
    TierSettings,
    check,
    compile_doc,
)

_CACHE: VersionedCache[CompiledSettings] = VersionedCache(64)
_audit = StaffChanges("tier_settings")


def settings_item(shop_id: str) -> TierSettingsItem | None:
    try:
        return TierSettingsItem.get(shop_id, SETTINGS_SK, consistent_read=True)
    except TierSettingsItem.DoesNotExist:
        return None


def compiled(shop_id: str, item: TierSettingsItem | None) -> CompiledSettings:
    """The shop's settings compiled (the defaults when it never saved any), from this
    instance's cache while the revision holds."""
    if item is None:
        return DEFAULTS
    revision = int(item.revision or 0)
    return _CACHE.get(shop_id, revision, lambda: compile_doc(item.doc, revision))


def load(shop_id: str) -> CompiledSettings:
    return compiled(shop_id, settings_item(shop_id))


def tier_ids(shop_id: str) -> frozenset[str]:
    """The tier ids a customer of this shop can have (its tiers and the built-in `regular`)."""
    return load(shop_id).tier_ids


def check_tier_ids(shop_id: str, given: list[str] | None, *, where: str) -> None:
    """400 `unknown_tier` when a configuration names a tier the shop does not have."""
    if not given:
        return
    known = tier_ids(shop_id)
    unknown = sorted(set(given) - known)
    if unknown:
        raise BadRequest(
            f"{where} name(s) unknown tier(s) {', '.join(unknown)}; this shop's tiers are "
            f"{', '.join(sorted(known))} (GET /v1/tier-settings)",
            code="unknown_tier",
            details={"unknown": unknown, "known": sorted(known)},
        )


def _public(item: TierSettingsItem | None) -> dict[str, Any]:
    doc = msgspec.to_builtins(msgspec.convert(item.doc if item else {}, TierSettings))
    return {
        **doc,
        "unscored_tier": UNSCORED,
        "revision": int(item.revision or 0) if item else 0,
        "updated_at": int(item.updated_at) if item and item.updated_at else None,
        "updated_by": item.updated_by if item else None,
    }


def get_settings(actor: StaffActor) -> dict[str, Any]:
    p.require(actor, p.TIERS_MANAGE)
    return _public(settings_item(actor.shop_id))


class TierSettingsPut(TierSettings, forbid_unknown_fields=True, kw_only=True):
    # The revision the editor started from: a concurrent edit is a 409, not a silent overwrite.
    revision: int | None = None


def put_settings(actor: StaffActor, body: TierSettingsPut) -> dict[str, Any]:
    """Replace the settings: document, revision + 1 and the audit record in one transaction.
    Customers move to the new tiers at their next order event and all of them at the next
    nightly pass (a new revision starts a new run)."""
    p.require(actor, p.TIERS_MANAGE)
    settings = msgspec.convert(
        {k: v for k, v in msgspec.to_builtins(body).items() if k != "revision"}, TierSettings
    )
    check(settings)
    before = settings_item(actor.shop_id)
    old_revision = int(before.revision or 0) if before else 0
    if body.revision is not None and body.revision != old_revision:
        raise Conflict(
            f"tier settings are at revision {old_revision}, not {body.revision}: reload them",
            code="stale",
        )
    doc = msgspec.to_builtins(settings)
    at = now_ms()
    item = TierSettingsItem(
        actor.shop_id,
        SETTINGS_SK,
        doc=doc,
        revision=old_revision + 1,
        updated_at=at,
        updated_by=actor.username,
    )
    condition = (
        TierSettingsItem.revision == old_revision
        if before
        else TierSettingsItem.sk.does_not_exist()
    )
    try:
        with write_transaction() as tx:
            tx.save(item, condition=condition)
            tx.save(
                _audit(
                    actor,
                    "tiers.settings_updated",
                    actor.shop_id,
                    before.doc if before else None,
                    doc,
                    at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise Conflict("tier settings changed meanwhile: reload them", code="stale") from None
        raise
    return _public(item)


def clear_cache() -> None:
    _CACHE.clear()


caches.register("kefu.tiers.settings", clear_cache)
