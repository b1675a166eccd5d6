"""Client for WeChat's server API (api.weixin.qq.com) as used by a mini-program's back end.

urllib3 is used because it already ships with botocore in Lambda. WeChat reports failures as
HTTP 200 with ``{"errcode": N, "errmsg": "..."}``; those become WeChatApiError. Anything that is
not a WeChat answer (connection errors, timeouts, 5xx, non-JSON bodies) becomes
WeChatUnavailable, which is always safe to retry.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

__all__ = ["DEFAULT_BASE_URL", "WeChatApi", "WeChatApiError", "WeChatUnavailable"]

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
# Lambda handlers must answer WeChat's push within 5 s, so never wait long on WeChat itself.
DEFAULT_TIMEOUT = urllib3.Timeout(connect=2.0, read=5.0)

_TOKEN_INVALID = frozenset({40001, 40014, 42001})
_RATE_LIMITED = frozenset({45009, 45011})
_BAD_CODE = frozenset({40029, 40163})


class WeChatApiError(Exception):
    """WeChat answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int, errmsg: str, *, path: str | None = None) -> None:
        where = f" from {path}" if path else ""
        super().__init__(f"WeChat error {errcode}{where}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    @property
    def token_invalid(self) -> bool:
        """The access_token is wrong, superseded or expired: fetch a new one and retry once."""
        return self.errcode in _TOKEN_INVALID

    @property
    def rate_limited(self) -> bool:
        """Daily (45009) or per-minute (45011) API quota hit."""
        return self.errcode in _RATE_LIMITED

    @property
    def window_closed(self) -> bool:
        """45015: the user has not messaged in the last 48 h, so customer-service replies fail."""
        return self.errcode == 45015

    @property
    def quota_exhausted(self) -> bool:
        """45047: the per-user reply quota (5 messages per user message) is used up."""
        return self.errcode == 45047

    @property
    def bad_code(self) -> bool:
        """The wx.login code is invalid, expired (40029) or already used (40163)."""
        return self.errcode in _BAD_CODE

    @property
    def user_blocked(self) -> bool:
        """40226: WeChat blocked the login of a high-risk user."""
        return self.errcode == 40226

    @property
    def retryable(self) -> bool:
        """Worth retrying later unchanged: rate limits and -1 "system error"."""
        return self.rate_limited or self.errcode == -1


class WeChatUnavailable(Exception):
    """No usable answer from WeChat (transport error, timeout, HTTP 5xx, garbage); retryable."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_http(timeout: urllib3.Timeout) -> urllib3.PoolManager:
    """The HTTP transport every WeChatApi uses unless given one (the unit tests put the WeChat
    stand-in's in-memory transport here)."""
    # retries=False: retrying is the caller's decision (it knows about idempotency/quota).
    return urllib3.PoolManager(timeout=timeout, retries=False)


class WeChatApi:
    """Thin, typed wrapper over the endpoints the customer-service back end calls."""

    # Mini-program customer-service endpoints. Newer docs also list .../custom/business/...
    # variants (for sub-merchant businessid); the plain paths are the long-standing ones.
    CUSTOM_SEND_PATH = "/cgi-bin/message/custom/send"
    TYPING_PATH = "/cgi-bin/message/custom/typing"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        http: urllib3.PoolManager | None = None,
        *,
        timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = http or new_http(timeout)

    # --- login and tokens ---------------------------------------------------------------------

    def jscode2session(self, appid: str, secret: str, code: str) -> dict[str, str]:
        """Exchange a wx.login code for ``{"openid", "session_key"[, "unionid"]}``."""
        data = self._call(
            "GET",
            "/sns/jscode2session",
            query={
                "appid": appid,
                "secret": secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        result = {
            "openid": _require_str(data, "openid", "/sns/jscode2session"),
            "session_key": _require_str(data, "session_key", "/sns/jscode2session"),
        }
        if data.get("unionid"):  # only when the app is bound to an Open Platform account
            result["unionid"] = str(data["unionid"])
        return result

    def stable_token(self, appid: str, secret: str, force_refresh: bool = False) -> tuple[str, int]:
        """Fetch the stable access_token; returns ``(access_token, expires_in_seconds)``.

        force_refresh=True revokes the previous token at once (docs: max 20 a day, 30 s apart):
        use it only when WeChat says the token is invalid, not on every miss.
        """
        data = self._call(
            "POST",
            "/cgi-bin/stable_token",
            json_body={
                "grant_type": "client_credential",
                "appid": appid,
                "secret": secret,
                "force_refresh": force_refresh,
            },
        )
        token = _require_str(data, "access_token", "/cgi-bin/stable_token")
        try:
            expires_in = int(data.get("expires_in", 0))
        except (TypeError, ValueError) as exc:
            raise WeChatUnavailable(
                f"/cgi-bin/stable_token returned a non-integer expires_in: {exc}"
            ) from exc
        return token, expires_in

    # --- messages -----------------------------------------------------------------------------

    def send_custom_message(self, access_token: str, payload: dict[str, Any]) -> None:
        """Send a customer-service message (text/image/link/miniprogrampage) to a user."""
        self._call(
            "POST",
            self.CUSTOM_SEND_PATH,
            query={"access_token": access_token},
            json_body=payload,
        )

    def send_subscribe_message(self, access_token: str, payload: dict[str, Any]) -> None:
        """Send a subscription message (订阅消息); works outside the 48-hour reply window."""
        self._call(
            "POST",
            "/cgi-bin/message/subscribe/send",
            query={"access_token": access_token},
            json_body=payload,
        )

    def set_typing(self, access_token: str, touser: str, typing: bool) -> None:
        """Show or clear the "typing…" indicator in the user's customer-service session."""
        self._call(
            "POST",
            self.TYPING_PATH,
            query={"access_token": access_token},
            json_body={"touser": touser, "command": "Typing" if typing else "CancelTyping"},
        )

    def upload_temp_media(
        self,
        access_token: str,
        media_type: str,
        filename: str,
        data: bytes,
        content_type: str,
    ) -> str:
        """Upload a temporary media file (3-day lifetime); returns its ``media_id``."""
        body, multipart_type = urllib3.encode_multipart_formdata(
            {"media": (filename, data, content_type)}
        )
        result = self._call(
            "POST",
            "/cgi-bin/media/upload",
            query={"access_token": access_token, "type": media_type},
            body=body,
            content_type=multipart_type,
        )
        return _require_str(result, "media_id", "/cgi-bin/media/upload")

    # --- transport ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path + ("?" + urlencode(query) if query else "")
        headers: dict[str, str] = {}
        if json_body is not None:
            # ensure_ascii=False: WeChat shows \uXXXX escapes to the user literally.
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self._http.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except Urllib3Error as exc:
            # Never echo the URL: its query holds the access_token or the app secret.
            raise WeChatUnavailable(f"{method} {path} failed: {type(exc).__name__}") from exc

        if response.status >= 500:
            raise WeChatUnavailable(
                f"{method} {path} answered HTTP {response.status}", status=response.status
            )
        try:
            data = json.loads(response.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            raise WeChatUnavailable(
                f"{method} {path} answered HTTP {response.status} without a JSON object",
                status=response.status,
            )
        try:
            errcode = int(data.get("errcode") or 0)
        except (TypeError, ValueError):
            raise WeChatUnavailable(
                f"{method} {path} answered a non-integer errcode {data.get('errcode')!r}",
                status=response.status,
            ) from None
        if errcode != 0:
            raise WeChatApiError(errcode, str(data.get("errmsg", "")), path=path)
        if response.status >= 300:
            raise WeChatUnavailable(
                f"{method} {path} answered HTTP {response.status}", status=response.status
            )
        return data


def _require_str(data: dict[str, Any], key: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise WeChatUnavailable(f"{path} succeeded but its answer has no {key}")
    return value
