"""A shop's WeChat settings (the owner's; every change audited): the mini-program's appid, how its
pushes must arrive (push mode), and its secrets — AppSecret, push Token, EncodingAESKey.

The secrets live in Secrets Manager at ``kefu/<stage>/shops/<shop_id>/wechat`` (one JSON secret,
the shape kefu.shops.wechat_credentials reads); they are never stored in a table, never written
to the audit trail and never returned: answers say only which of them are set.

The push mode is explicit once settings are saved (kefu.channels.wechat.push): ``secure`` by
default when an EncodingAESKey is set, ``plain`` when not; ``plain`` is refused with a key, and
``compatible``/``secure`` without one. Intake instances see a change within a minute (the profile
cache) and a new secret within five (the secrets cache).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.audit import staff_change
from kefu.auth.actors import StaffActor
from kefu.auth.permissions import WECHAT_SETTINGS_MANAGE, require
from kefu.aws import client
from kefu.config import settings
from kefu.errors import BadRequest, Conflict, NotFound
from kefu.ids import now_ms
from kefu.storage.shops import PROFILE, ShopProfile
from kefu.storage.tx import condition_failed, write_transaction

SECRET_NAMES = ("app_secret", "token", "encoding_aes_key")

# WeChat's own rules (mini-program console, 开发管理 → 消息推送): the Token is 3-32 letters or
# digits, the EncodingAESKey 43; an appid is "wx" and 16 more. AppSecrets are 32 hex digits, but
# only their absence of whitespace is checked, so a future format is not refused.
AppId = Annotated[str, msgspec.Meta(pattern=r"^wx[0-9A-Za-z]{2,32}$")]
PushToken = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{3,32}$")]
AesKey = Annotated[str, msgspec.Meta(pattern=r"^([0-9A-Za-z]{43})?$")]
AppSecret = Annotated[str, msgspec.Meta(pattern=r"^\S{8,128}$")]


class WeChatSettingsPut(msgspec.Struct, forbid_unknown_fields=True):
    """The whole settings. A secret left out (or null) keeps its stored value, since answers
    never show it; ``encoding_aes_key: ""`` removes the key (then the mode must be plain)."""

    appid: AppId
    push_mode: Literal["plain", "compatible", "secure"] | None = None
    app_secret: AppSecret | None = None
    token: PushToken | None = None
    encoding_aes_key: AesKey | None = None


def secret_id_for(shop_id: str) -> str:
    return f"kefu/{settings().stage}/shops/{shop_id}/wechat"


def get_wechat_settings(actor: StaffActor) -> dict[str, Any]:
    require(actor, WECHAT_SETTINGS_MANAGE)
    profile = _profile(actor.shop_id)
    secret = _read_secret(profile.wechat_secret_id) if profile.wechat_secret_id else {}
    return _view(profile, secret)


def put_wechat_settings(
    actor: StaffActor, body: WeChatSettingsPut, *, request_id: str | None = None
) -> dict[str, Any]:
    require(actor, WECHAT_SETTINGS_MANAGE)
    profile = _profile(actor.shop_id)
    secret_id = profile.wechat_secret_id or secret_id_for(actor.shop_id)
    current = _read_secret(secret_id)
    merged = dict(current)
    for name in SECRET_NAMES:
        value = getattr(body, name)
        if value is not None:
            merged[name] = value
    if not merged.get("encoding_aes_key"):
        merged.pop("encoding_aes_key", None)
    missing = [name for name in ("app_secret", "token") if not merged.get(name)]
    if missing:
        raise BadRequest(
            f"{' and '.join(missing)} must be set: none is stored for this shop yet",
            code="missing_secret",
        )
    has_key = bool(merged.get("encoding_aes_key"))
    mode = body.push_mode or ("secure" if has_key else "plain")
    if mode == "plain" and has_key:
        raise BadRequest(
            "push_mode plain is not allowed with an EncodingAESKey: plain pushes are signed "
            "without their body; use secure (or compatible), or remove the key",
            code="plain_mode_with_aes_key",
        )
    if mode != "plain" and not has_key:
        raise BadRequest(
            f"push_mode {mode} needs an encoding_aes_key (43 characters, from the console)",
            code="aes_key_required",
        )

    before = _view(profile, current)
    changed = sorted(name for name in SECRET_NAMES if merged.get(name) != current.get(name))
    if changed:
        _write_secret(secret_id, merged)
    at = now_ms()
    actions = [
        ShopProfile.wechat_appid.set(body.appid),
        ShopProfile.wechat_secret_id.set(secret_id),
        ShopProfile.wechat_push_mode.set(mode),
        ShopProfile.wechat_settings_updated_at.set(at),
    ]
    after = {
        **before,
        "appid": body.appid,
        "push_mode": mode,
        "secrets_set": {name: bool(merged.get(name)) for name in SECRET_NAMES},
        "updated_at": at,
    }
    try:
        with write_transaction() as tx:
            tx.save(
                staff_change(
                    actor,
                    action="shop.wechat_settings_updated",
                    target_type="shop",
                    target_id=actor.shop_id,
                    before=before,
                    # Which secrets changed, by name only: their values never reach the audit.
                    after={**after, "secrets_changed": changed},
                    request_id=request_id,
                    at_ms=at,
                )
            )
            tx.update(
                ShopProfile(actor.shop_id, PROFILE),
                actions,
                condition=_unchanged(profile),
            )
    except TransactWriteError as exc:
        if changed:
            # The profile and the audit were not written: put the old secret back, so that no
            # change stands without its audit record.
            _write_secret(secret_id, current)
        if condition_failed(exc, 1):  # puts first (the audit record), then the profile
            raise Conflict(
                "the shop's WeChat settings changed meanwhile: reload and retry", code="stale"
            ) from None
        raise
    return after


def _profile(shop_id: str) -> ShopProfile:
    try:
        return ShopProfile.get(shop_id, PROFILE, consistent_read=True)
    except ShopProfile.DoesNotExist:
        raise NotFound(f"unknown shop {shop_id!r}", code="shop_not_found") from None


def _unchanged(profile: ShopProfile) -> Any:
    stamp = profile.wechat_settings_updated_at
    if stamp is None:
        return (
            ShopProfile.shop_id.exists() & ShopProfile.wechat_settings_updated_at.does_not_exist()
        )
    return ShopProfile.wechat_settings_updated_at == stamp


def _read_secret(secret_id: str) -> dict[str, Any]:
    sm = client("secretsmanager")
    try:
        value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return {}
    return value if isinstance(value, dict) else {}


def _write_secret(secret_id: str, value: dict[str, Any]) -> None:
    sm = client("secretsmanager")
    text = json.dumps(value)
    try:
        sm.put_secret_value(SecretId=secret_id, SecretString=text)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=secret_id, SecretString=text)
    # This instance reads the new value at once; others within the secrets cache's TTL.
    from kefu import secrets

    secrets.clear_cache()


def _view(profile: ShopProfile, secret: dict[str, Any]) -> dict[str, Any]:
    from kefu.channels.wechat.push import effective_push_mode

    configured = bool(profile.wechat_appid and profile.wechat_secret_id)
    return {
        "appid": profile.wechat_appid,
        # The mode pushes are checked in now (a stored mode, or the default for the key).
        "push_mode": effective_push_mode(
            profile.wechat_push_mode, has_aes_key=bool(secret.get("encoding_aes_key"))
        )
        if configured
        else None,
        "secrets_set": {name: bool(secret.get(name)) for name in SECRET_NAMES},
        "push_path": f"/v1/wechat/{profile.shop_id}/push",
        "updated_at": profile.wechat_settings_updated_at,
    }
