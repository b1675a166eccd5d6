"""Shops (the tenants) and their channel configuration."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kefu import caches
from kefu.errors import NotFound
from kefu.secrets import secret_json
from kefu.storage.shops import PROFILE, ShopProfile

_TTL_SECONDS = 60
_cache: dict[str, tuple[float, ShopProfile]] = {}


def get_shop(shop_id: str) -> ShopProfile:
    """The shop's profile, cached a minute per instance: it is read on every request and
    changes rarely. Unknown or suspended shops are 404 — indistinguishable to the caller."""
    hit = _cache.get(shop_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        shop = ShopProfile.get(shop_id, PROFILE)
    except ShopProfile.DoesNotExist:
        raise NotFound(f"unknown shop {shop_id!r}", code="shop_not_found") from None
    remember_profile(shop)
    if shop.status != "active":
        raise NotFound(f"unknown shop {shop_id!r}", code="shop_not_found")
    return shop


def mall_of(shop_id: str) -> str | None:
    """The mall the shop sells in, or None (a stand-alone, unknown or suspended shop)."""
    try:
        return get_shop(shop_id).mall_id or None
    except NotFound:
        return None


def operated_mall(shop_id: str) -> str | None:
    """The mall this shop operates: a mall's operator is the shop whose id is the mall id."""
    return shop_id if mall_of(shop_id) == shop_id else None


def clear_cache() -> None:
    _cache.clear()
    _status_cache.clear()


# Staff requests check their shop's status on each request: a suspension must take effect within
# seconds (the profile cache above keeps a minute), so the status has its own short cache.
STATUS_TTL_SECONDS = 5
_status_cache: dict[str, tuple[float, str | None]] = {}


def shop_status(shop_id: str) -> str | None:
    """ "active", "suspended", ... or None for no such shop; cached STATUS_TTL_SECONDS."""
    if not shop_id:
        return None  # no key is empty: no such shop
    hit = _status_cache.get(shop_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        # The whole profile for the price of its status (one GetItem either way): an active
        # shop's profile then serves get_shop too, so a staff request reads its shop once.
        shop = ShopProfile.get(shop_id, PROFILE)
    except ShopProfile.DoesNotExist:
        _status_cache[shop_id] = (time.monotonic() + STATUS_TTL_SECONDS, None)
        return None
    remember_profile(shop)
    return shop.status


def remember_profile(shop: ShopProfile) -> None:
    """What one read of a profile tells both caches."""
    now = time.monotonic()
    _status_cache[shop.shop_id] = (now + STATUS_TTL_SECONDS, shop.status)
    if shop.status == "active":
        _cache[shop.shop_id] = (now + _TTL_SECONDS, shop)


@dataclass(frozen=True)
class WeChatCredentials:
    appid: str
    app_secret: str
    token: str
    encoding_aes_key: str | None


def wechat_credentials(shop: ShopProfile) -> WeChatCredentials:
    if not shop.wechat_appid or not shop.wechat_secret_id:
        raise NotFound(
            f"shop {shop.shop_id!r} has no WeChat mini-program configured",
            code="wechat_not_configured",
        )
    secret = secret_json(shop.wechat_secret_id)
    return WeChatCredentials(
        appid=shop.wechat_appid,
        app_secret=secret["app_secret"],
        token=secret["token"],
        encoding_aes_key=secret.get("encoding_aes_key") or None,
    )


caches.register("kefu.shops", clear_cache)
