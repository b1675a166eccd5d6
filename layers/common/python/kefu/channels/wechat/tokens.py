"""The shop's WeChat access token, shared by every Lambda instance.

WeChat's stable_token hands every caller the same token until it expires, so instances never
invalidate each other's token; a copy in DynamoDB (and in the instance) saves the call. When
WeChat says a token is invalid, the normal call is tried first (another instance may already
hold a newer one) and force_refresh — rate-limited by WeChat — only if that returns the same token.
"""

from __future__ import annotations

import time

from kefu import caches
from kefu.channels.wechat.api import WeChatApi
from kefu.shops import WeChatCredentials
from kefu.storage.runtime import AccessTokenCache

_MARGIN_SECONDS = 300  # stop using a token 5 minutes before WeChat's expiry
_local: dict[str, tuple[str, float]] = {}


def access_token(shop_id: str, creds: WeChatCredentials, api: WeChatApi) -> str:
    now = time.time()
    hit = _local.get(shop_id)
    if hit and hit[1] > now:
        return hit[0]
    try:
        item = AccessTokenCache.get(AccessTokenCache.key(shop_id))
        if item.valid_until > now:
            _local[shop_id] = (item.access_token, item.valid_until)
            return item.access_token
    except AccessTokenCache.DoesNotExist:
        pass
    return _fetch(shop_id, creds, api, force_refresh=False)


def refresh_after_rejection(
    shop_id: str, creds: WeChatCredentials, api: WeChatApi, rejected: str
) -> str:
    _local.pop(shop_id, None)
    token = _fetch(shop_id, creds, api, force_refresh=False)
    if token != rejected:
        return token
    return _fetch(shop_id, creds, api, force_refresh=True)


def _fetch(shop_id: str, creds: WeChatCredentials, api: WeChatApi, *, force_refresh: bool) -> str:
    token, expires_in = api.stable_token(creds.appid, creds.app_secret, force_refresh=force_refresh)
    now = time.time()
    valid_until = int(now + max(expires_in - _MARGIN_SECONDS, 60))
    AccessTokenCache(
        AccessTokenCache.key(shop_id),
        access_token=token,
        valid_until=valid_until,
        expires_at=int(now + expires_in + 3600),
    ).save()
    _local[shop_id] = (token, valid_until)
    return token


def clear_local_cache() -> None:
    _local.clear()


caches.register("kefu.channels.wechat.tokens", clear_local_cache)
