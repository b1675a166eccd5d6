"""A loopback stand-in for WeChat's API server (api.weixin.qq.com), stdlib only.

It implements the endpoints the back end calls with WeChat's own validation order, error codes
and messages closely enough that client code written against it behaves the same in production:
login (jscode2session), stable access tokens (with expiry, rollover and forced refresh),
customer-service messages, typing, subscription messages and temporary media upload.

Tests drive it in-process (``requests()``, ``fail_next()``, ``expire_tokens()``, ``reset()``) or
over HTTP through the same operations under ``/__standin__/``; ``fail_next`` can also answer late
(``delay``: past the caller's read timeout, the caller sees a timeout although WeChat acted).
Run it on its own with ``python -m infra.local.wechat_standin --port 8089 --app wx123:secret``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ERRMSG", "WeChatStandIn"]

# WeChat's own errmsg texts; real answers append " rid: ..." which the stand-in imitates.
ERRMSG: dict[int, str] = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40066: "invalid url",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45072: "invalid command",
    47001: "data format error",
    47003: "argument invalid!",
}

TOKEN_TTL = 7200
# Docs: in normal mode WeChat issues a new token during the last 5 minutes of the old one's
# life, and both stay usable until the old one expires.
TOKEN_ROLLOVER = 300
MAX_IMAGE_BYTES = 2 * 1024 * 1024
CONTROL_PREFIX = "/__standin__/"
_CUSTOM_MSG_TYPES = ("text", "image", "link", "miniprogrampage")


@dataclass
class _App:
    secret: str
    unionid: bool


@dataclass
class _Token:
    appid: str
    expires_at: float
    revoked: bool = False


@dataclass
class _Failure:
    errcode: int | None
    errmsg: str | None
    http_status: int | None
    remaining: int
    delay: float = 0.0


@dataclass
class _Request:
    """What a handler sees of one HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes


class _Answer(Exception):
    """Raised inside an endpoint to answer with a WeChat error right away."""

    def __init__(self, errcode: int, detail: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.detail = detail


class WeChatStandIn:
    """WeChat API server stand-in; configure apps with ``add_app`` then ``start()``."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, single_use_codes: bool = False
    ) -> None:
        """``clock`` lets tests move time (token expiry); ``single_use_codes`` makes a
        wx.login code usable once, as in production (off by default so a test code can stand
        for one user across logins)."""
        self._clock = clock
        self._single_use_codes = single_use_codes
        self._lock = threading.RLock()
        self._apps: dict[str, _App] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clear_state()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a daemon thread; returns the base URL (``port=0`` picks a free port)."""
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        server = ThreadingHTTPServer((host, port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="wechat-standin", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        """Base URL to give WeChatApi, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("stand-in not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> WeChatStandIn:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- configuration and control ------------------------------------------------------------

    def add_app(self, appid: str, secret: str, *, unionid: bool = True) -> None:
        """Register a mini-program. ``unionid=False`` models an app not bound to an Open
        Platform account, for which WeChat omits unionid from logins."""
        with self._lock:
            self._apps[appid] = _App(secret=secret, unionid=unionid)

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded API calls (not control calls), oldest first, optionally for one path."""
        with self._lock:
            return [dict(r) for r in self._requests if path is None or r["path"] == path]

    def fail_next(
        self,
        path: str,
        errcode: int | None = None,
        errmsg: str | None = None,
        times: int = 1,
        http_status: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls to ``path`` fail with a WeChat errcode (HTTP 200) or,
        with ``http_status``, a bare HTTP error such as 503 from WeChat's front end.

        ``delay`` (seconds) holds the answer back: with an errcode or status, a slow failure;
        alone, the call is handled as usual (a message is sent) and only the answer is late, so a
        caller whose read timeout is shorter sees a timeout for a call that took effect."""
        if errcode is None and http_status is None and delay <= 0:
            raise ValueError("fail_next needs errcode, http_status or delay")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.setdefault(path, deque()).append(
                _Failure(
                    errcode=errcode,
                    errmsg=errmsg,
                    http_status=http_status,
                    remaining=times,
                    delay=max(delay, 0.0),
                )
            )

    def expire_tokens(self) -> None:
        """Expire every issued access_token now: using one answers 42001, and the next
        stable_token call issues a fresh one."""
        with self._lock:
            now = self._clock()
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, now)

    def reset(self) -> None:
        """Forget tokens, media, used codes, recorded requests and pending failures; keeps the
        registered apps."""
        with self._lock:
            self._clear_state()

    # --- derived identities (so tests can predict what a login returns) ------------------------

    @staticmethod
    def openid_for(appid: str, code: str) -> str:
        """The openid a login with ``code`` yields under ``appid`` (28 chars, like WeChat's)."""
        return _opaque_id(f"openid:{appid}:{code}")

    @staticmethod
    def unionid_for(code: str) -> str:
        """The unionid for ``code``; the same under every appid, as for one real person."""
        return _opaque_id(f"unionid:{code}")

    # --- request handling ---------------------------------------------------------------------

    def _clear_state(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._current: dict[str, str] = {}
        self._media: dict[str, str] = {}
        self._used_codes: set[tuple[str, str]] = set()
        self._requests: list[dict[str, Any]] = []
        self._failures: dict[str, deque[_Failure]] = {}

    def handle_request(
        self, method: str, path: str, query: dict[str, str], content_type: str, body: bytes
    ) -> tuple[int, bytes, str]:
        """Answer one request in-process, exactly as over HTTP: ``(status, body, content_type)``
        (the unit tests' in-memory transport)."""
        return self._handle(_Request(method, path, query, content_type, body))

    def _handle(self, req: _Request) -> tuple[int, bytes, str]:
        """Answer one request: ``(http_status, body, content_type)``, without any delay."""
        return self._answer(req)[:3]

    def _answer(self, req: _Request) -> tuple[int, bytes, str, float]:
        """``_handle`` plus how long to hold the answer back (slept outside the lock)."""
        with self._lock:
            if req.path.startswith(CONTROL_PREFIX):
                return (*self._control(req), 0.0)
            record: dict[str, Any] = {
                "method": req.method,
                "path": req.path,
                "query": dict(req.query),
                "json": None,
                "multipart": None,
                "body": "",
                "time": self._clock(),
            }
            if req.content_type.startswith("multipart/"):
                record["multipart"] = [
                    {k: v for k, v in part.items() if k != "data"}
                    for part in _parse_multipart(req.content_type, req.body)
                ]
            elif req.body:
                # Raw text too: tests check for \uXXXX escapes, which WeChat shows literally.
                record["body"] = req.body.decode("utf-8", errors="replace")
                try:
                    record["json"] = json.loads(req.body.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    record["json"] = None
            self._requests.append(record)

            failure = self._take_failure(req.path)
            status, payload, text = self._dispatch(req, failure)
            delay = failure.delay if failure is not None else 0.0
            record["http_status"] = status
            record["errcode"] = payload.get("errcode", 0) if payload is not None else None
            record["delay"] = delay
            if payload is None:
                return status, text.encode("utf-8"), "text/html; charset=utf-8", delay
            return status, _json_bytes(payload), "application/json; charset=utf-8", delay

    def _dispatch(
        self, req: _Request, failure: _Failure | None
    ) -> tuple[int, dict[str, Any] | None, str]:
        if failure is not None and (failure.errcode is not None or failure.http_status is not None):
            if failure.http_status is not None:
                if failure.errcode is not None:
                    return failure.http_status, _error(failure.errcode, failure.errmsg), ""
                return failure.http_status, None, f"<html>{failure.http_status}</html>"
            assert failure.errcode is not None
            return 200, _error(failure.errcode, failure.errmsg), ""

        route = _ROUTES.get(req.path)
        if route is None:
            return 404, _error(40066), ""
        method, endpoint = route
        if req.method != method:
            return 200, _error(43001 if method == "GET" else 43002), ""
        try:
            return 200, endpoint(self, req), ""
        except _Answer as answer:
            return 200, _error(answer.errcode, detail=answer.detail), ""

    def _take_failure(self, path: str) -> _Failure | None:
        queue = self._failures.get(path)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining == 0:
            queue.popleft()
        return failure

    # --- endpoints ----------------------------------------------------------------------------

    def _jscode2session(self, req: _Request) -> dict[str, Any]:
        appid = self._check_app(req.query.get("appid"), req.query.get("secret"))
        if req.query.get("grant_type") != "authorization_code":
            raise _Answer(40002)
        code = req.query.get("js_code", "")
        if not code:
            raise _Answer(40029)
        if self._single_use_codes:
            if (appid, code) in self._used_codes:
                raise _Answer(40163)
            self._used_codes.add((appid, code))
        answer = {
            "openid": self.openid_for(appid, code),
            "session_key": base64.b64encode(_digest(f"session:{appid}:{code}")[:16]).decode(),
        }
        if self._apps[appid].unionid:
            answer["unionid"] = self.unionid_for(code)
        return answer

    def _stable_token(self, req: _Request) -> dict[str, Any]:
        body = _json_object(req)
        if body.get("grant_type") != "client_credential":
            raise _Answer(40002)
        appid = self._check_app(body.get("appid"), body.get("secret"))
        now = self._clock()
        current = self._tokens.get(self._current.get(appid, ""))
        if body.get("force_refresh") is True:
            # Docs: forced refresh invalidates the previous token immediately.
            for token in self._tokens.values():
                if token.appid == appid:
                    token.revoked = True
        elif (
            current is not None
            and not current.revoked
            and now < current.expires_at - TOKEN_ROLLOVER
        ):
            return {
                "access_token": self._current[appid],
                "expires_in": int(current.expires_at - now),
            }
        # New token; an unexpired predecessor stays valid until its own expiry (rollover).
        value = secrets.token_urlsafe(96)
        self._tokens[value] = _Token(appid=appid, expires_at=now + TOKEN_TTL)
        self._current[appid] = value
        return {"access_token": value, "expires_in": TOKEN_TTL}

    def _custom_send(self, req: _Request) -> dict[str, Any]:
        appid = self._check_token(req)
        body = _json_object(req)
        _check_openid(body)
        msgtype = body.get("msgtype")
        if msgtype not in _CUSTOM_MSG_TYPES:
            raise _Answer(40008)
        part = body.get(msgtype)
        if not isinstance(part, dict):
            raise _Answer(44004 if msgtype == "text" else 47001)
        if msgtype == "text":
            if not isinstance(part.get("content"), str) or not part["content"]:
                raise _Answer(44004)
        elif msgtype == "image":
            self._check_media(appid, part.get("media_id"))
        elif msgtype == "link":
            _check_strings(part, ("title", "url"))
        else:
            _check_strings(part, ("title", "pagepath"))
            self._check_media(appid, part.get("thumb_media_id"))
        return _error(0)

    def _subscribe_send(self, req: _Request) -> dict[str, Any]:
        self._check_token(req)
        body = _json_object(req)
        _check_openid(body)
        if not isinstance(body.get("template_id"), str) or not body["template_id"]:
            raise _Answer(40037)
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            raise _Answer(47003, "data invalid")
        for key, item in data.items():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                raise _Answer(47003, f"data.{key}.value invalid")
        state = body.get("miniprogram_state", "formal")
        if state not in ("developer", "trial", "formal"):
            raise _Answer(47003, "miniprogram_state invalid")
        return _error(0)

    def _typing(self, req: _Request) -> dict[str, Any]:
        self._check_token(req)
        body = _json_object(req)
        _check_openid(body)
        if body.get("command") not in ("Typing", "CancelTyping"):
            raise _Answer(45072)
        return _error(0)

    def _media_upload(self, req: _Request) -> dict[str, Any]:
        appid = self._check_token(req)
        if req.query.get("type") != "image":  # mini-programs may only upload images
            raise _Answer(40004)
        parts = (
            _parse_multipart(req.content_type, req.body)
            if req.content_type.startswith("multipart/form-data")
            else []
        )
        media = next((p for p in parts if p["field"] == "media" and p["filename"]), None)
        if media is None or not media["size"]:
            raise _Answer(41005)
        if media["size"] > MAX_IMAGE_BYTES:
            raise _Answer(40009)
        media_id = secrets.token_urlsafe(48)
        self._media[media_id] = appid
        return {"type": "image", "media_id": media_id, "created_at": int(self._clock())}

    # --- checks -------------------------------------------------------------------------------

    def _check_app(self, appid: object, secret: object) -> str:
        if not isinstance(appid, str) or not appid:
            raise _Answer(41002)
        app = self._apps.get(appid)
        if app is None:
            raise _Answer(40013)
        if not isinstance(secret, str) or not secret:
            raise _Answer(41004)
        if not secrets.compare_digest(secret.encode(), app.secret.encode()):
            raise _Answer(40125)
        return appid

    def _check_token(self, req: _Request) -> str:
        value = req.query.get("access_token")
        if not value:
            raise _Answer(41001)
        token = self._tokens.get(value)
        if token is None or token.revoked:
            raise _Answer(40001)
        if self._clock() >= token.expires_at:
            raise _Answer(42001)
        return token.appid

    def _check_media(self, appid: str, media_id: object) -> None:
        if not isinstance(media_id, str) or self._media.get(media_id) != appid:
            raise _Answer(40007)

    # --- control API --------------------------------------------------------------------------

    def _control(self, req: _Request) -> tuple[int, bytes, str]:
        action = req.path[len(CONTROL_PREFIX) :]
        try:
            if req.method == "GET" and action == "requests":
                result: Any = self.requests(req.query.get("path") or None)
            elif req.method == "POST" and action == "fail":
                spec = json.loads(req.body or b"{}")
                self.fail_next(
                    spec["path"],
                    errcode=spec.get("errcode"),
                    errmsg=spec.get("errmsg"),
                    times=int(spec.get("times", 1)),
                    http_status=spec.get("http_status"),
                    delay=float(spec.get("delay", 0)),
                )
                result = {"ok": True}
            elif req.method == "POST" and action == "expire-tokens":
                self.expire_tokens()
                result = {"ok": True}
            elif req.method == "POST" and action == "reset":
                self.reset()
                result = {"ok": True}
            elif req.method == "POST" and action == "apps":
                spec = json.loads(req.body or b"{}")
                self.add_app(spec["appid"], spec["secret"], unionid=spec.get("unionid", True))
                result = {"ok": True}
            else:
                return (
                    404,
                    _json_bytes({"error": f"no control action {req.method} {action}"}),
                    ("application/json; charset=utf-8"),
                )
        except (KeyError, TypeError, ValueError) as exc:
            return (
                400,
                _json_bytes({"error": f"bad control request: {exc!r}"}),
                ("application/json; charset=utf-8"),
            )
        return 200, _json_bytes(result), "application/json; charset=utf-8"


_Endpoint = Callable[[WeChatStandIn, _Request], dict[str, Any]]
_ROUTES: dict[str, tuple[str, _Endpoint]] = {
    "/sns/jscode2session": ("GET", WeChatStandIn._jscode2session),
    "/cgi-bin/stable_token": ("POST", WeChatStandIn._stable_token),
    "/cgi-bin/message/custom/send": ("POST", WeChatStandIn._custom_send),
    # Newer mini-program docs list the .../business/... paths; serve both spellings.
    "/cgi-bin/message/custom/business/send": ("POST", WeChatStandIn._custom_send),
    "/cgi-bin/message/custom/typing": ("POST", WeChatStandIn._typing),
    "/cgi-bin/message/custom/business/typing": ("POST", WeChatStandIn._typing),
    "/cgi-bin/message/subscribe/send": ("POST", WeChatStandIn._subscribe_send),
    "/cgi-bin/media/upload": ("POST", WeChatStandIn._media_upload),
}


# --- helpers -----------------------------------------------------------------------------------


def _error(errcode: int, errmsg: str | None = None, *, detail: str | None = None) -> dict[str, Any]:
    """WeChat's error body. An explicit ``errmsg`` (from fail_next) is used verbatim; otherwise
    WeChat's text, an optional detail and a request id, as real answers carry."""
    if errcode == 0:
        return {"errcode": 0, "errmsg": "ok"}
    if errmsg is not None:
        return {"errcode": errcode, "errmsg": errmsg}
    text = ERRMSG.get(errcode, "unknown error")
    if detail:
        text = f"{text} {detail}"
    # Clients must not match errmsg exactly: real ones end with a request id.
    rid = "-".join(secrets.token_hex(4) for _ in range(3))
    return {"errcode": errcode, "errmsg": f"{text} rid: {rid}"}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _json_object(req: _Request) -> dict[str, Any]:
    if not req.body.strip():
        raise _Answer(44002)
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Answer(47001) from exc
    if not isinstance(body, dict):
        raise _Answer(47001)
    return body


def _check_openid(body: dict[str, Any]) -> None:
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        raise _Answer(40003)


def _check_strings(part: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if not isinstance(part.get(name), str) or not part[name]:
            raise _Answer(47001, f"{name} missing")


def _digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def _opaque_id(seed: str) -> str:
    return "o" + base64.urlsafe_b64encode(_digest(seed)).decode("ascii")[:27]


def _parse_multipart(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Split multipart/form-data into parts: field, filename, content_type, size, sha256, data."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    if not message.is_multipart():
        return []
    parts = []
    for part in message.iter_parts():
        data = part.get_payload(decode=True) or b""
        parts.append(
            {
                "field": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "data": data,
            }
        )
    return parts


def _make_handler(standin: WeChatStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so urllib3's pool behaves as in production
        server_version = "WeChatStandIn/1.0"
        disable_nagle_algorithm = True  # headers and body go out separately; avoid 40 ms stalls

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = _Request(
                method=self.command,
                path=parts.path,
                query=query,
                content_type=self.headers.get("Content-Type", ""),
                body=body,
            )
            delay = 0.0
            try:
                status, payload, content_type, delay = standin._answer(req)
            except Exception as exc:  # surface stand-in bugs to the test instead of hanging
                status, content_type = 500, "text/plain; charset=utf-8"
                payload = f"stand-in error: {exc!r}".encode()
            if delay:
                time.sleep(delay)  # a slow WeChat: the caller's read timeout may fire first
            # The caller may have given up waiting (its timeout): then nothing is left to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._write(status, payload, content_type)

        def _write(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests() is the log

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in in the foreground for a local stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument(
        "--app", action="append", default=[], metavar="APPID:SECRET", help="register an app"
    )
    args = parser.parse_args(argv)
    standin = WeChatStandIn()
    for spec in args.app:
        appid, _, secret = spec.partition(":")
        standin.add_app(appid, secret)
    print(f"WeChat stand-in on {standin.start(args.host, args.port)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
