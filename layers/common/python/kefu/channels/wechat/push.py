"""Parse and authenticate WeChat mini-program customer-service message pushes (客服消息推送).

WeChat POSTs each user message or event to our URL as JSON or XML (chosen in the admin
console), either in plain mode (``?signature&timestamp&nonce``) or secure mode
(``...&encrypt_type=aes&msg_signature``, body ``{"ToUserName","Encrypt"}``). The URL is verified
once with a GET carrying ``echostr``. ``build_push`` produces the same wire format so tests and
the local simulator exercise exactly what production receives.

Which pushes a shop accepts is its configured push mode (``PushMode``), never the request's:
  * ``secure``     only ``encrypt_type=aes`` with a valid ``msg_signature``; the body is the
                   envelope ``{ToUserName, Encrypt}`` and nothing else.
  * ``compatible`` the same authentication; the body may also carry the message in plaintext
                   (WeChat's 兼容模式), which is ignored: only the decrypted copy is used.
  * ``plain``      ``signature`` over (token, timestamp, nonce) — which does not cover the body —
                   and only for a shop with no EncodingAESKey: a shop with a key is never plain.
Every push's ``timestamp`` must be within ``MAX_CLOCK_SKEW_SECONDS`` of now; the caller then
remembers (shop, timestamp, nonce) so that a captured push cannot be replayed with another body
(kefu.intake, docs/decisions.md "WeChat push replay protection").
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from kefu.channels.wechat.crypto import (
    WeChatCrypto,
    WeChatCryptoError,
    sha1_signature,
    signature_matches,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CLOCK_SKEW_SECONDS",
    "PUSH_MODES",
    "InboundPush",
    "PushMode",
    "PushRejected",
    "build_push",
    "effective_push_mode",
    "open_push",
    "parse_body",
    "verify_url",
]

MAX_BODY_BYTES = 64 * 1024  # a customer-service push is a few hundred bytes; cap parsing work
# WeChat signs its push with the current time; a push further from now than this (either way)
# is refused, which bounds how long a captured (timestamp, nonce, signature) must be remembered.
MAX_CLOCK_SKEW_SECONDS = 300

PushMode = Literal["plain", "compatible", "secure"]
PUSH_MODES: tuple[str, ...] = ("plain", "compatible", "secure")
_ENVELOPE_FIELDS = frozenset({"ToUserName", "Encrypt"})
# WeChat's nonces are decimal strings; anything printable and short keeps replay keys bounded.
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_MESSAGE_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
_JSON_TYPE = "application/json"
_XML_TYPE = "text/xml"


class PushRejected(ValueError):
    """A push that must not be processed; ``status`` is the HTTP status to answer with and
    ``reason`` a stable code for logs and metrics (the message explains it to a person).

    400 malformed body/query, 401 bad or missing signature, stale timestamp or replayed nonce,
    403 message for another appid or not in the shop's push mode, 413 body too large, 500 our
    own configuration is incomplete.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass(frozen=True)
class InboundPush:
    """One authenticated message or event from a user's customer-service session."""

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: str | None
    event: str | None
    session_from: str | None
    content: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # How it travelled, not what it says: the signed query's timestamp and nonce, and a digest
    # of the authenticated message bytes (the body, or the decrypted copy), for replay checks.
    timestamp: int = field(default=0, compare=False)
    nonce: str = field(default="", compare=False)
    digest: str = field(default="", compare=False)

    @property
    def dedupe_key(self) -> str:
        """Key for dropping WeChat's retries (it retries 3 times if we take over 5 s).

        WeChat's rule: de-duplicate messages by MsgId, events by FromUserName + CreateTime.
        """
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.from_user}:{self.create_time}"


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode a push body (JSON or XML) into a dict and check the fields every push carries.

    An encrypted envelope (has ``Encrypt``) only needs ToUserName and Encrypt; a message needs
    ToUserName, FromUserName, CreateTime (integer) and MsgType. Raises PushRejected.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PushRejected(
            413,
            "body_too_large",
            f"push body is {len(body)} bytes, over the {MAX_BODY_BYTES}-byte limit",
        )
    fmt = _detect_format(body, content_type)
    message = _parse_json(body) if fmt == "json" else _parse_xml(body)
    _validate(message, fmt)
    return message


def effective_push_mode(stored: str | None, *, has_aes_key: bool) -> PushMode:
    """The mode a shop's pushes are checked in: as configured, except that a shop with an
    EncodingAESKey is never plain (a plain push's signature does not cover its body), and one
    with nothing configured is secure when it has a key, plain otherwise."""
    if stored in ("compatible", "secure"):
        return stored  # type: ignore[return-value]
    return "secure" if has_aes_key else "plain"


def open_push(
    query: dict[str, str],
    body: bytes,
    content_type: str | None,
    *,
    token: str,
    encoding_aes_key: str | None,
    appid: str,
    mode: str | None = None,
    now: float | None = None,
) -> InboundPush:
    """Authenticate a POSTed push in the shop's push mode, decrypt it if needed, check that it
    is fresh, and parse it. ``mode`` is the shop's stored setting (see effective_push_mode)."""
    mode = effective_push_mode(mode, has_aes_key=bool(encoding_aes_key))
    encrypt_type = query.get("encrypt_type") or "raw"
    if encrypt_type not in ("aes", "raw"):
        raise PushRejected(
            400,
            "unsupported_encrypt_type",
            f"unsupported encrypt_type {encrypt_type!r}; expected 'aes'",
        )
    if encrypt_type == "aes":
        message, authenticated = _open_secure(
            query,
            body,
            content_type,
            token,
            encoding_aes_key,
            appid,
            allow_plaintext=mode == "compatible",
        )
    else:
        _require_params(query, ("signature", "timestamp", "nonce"), status=401)
        if not signature_matches(query["signature"], token, query["timestamp"], query["nonce"]):
            raise PushRejected(
                401,
                "bad_signature",
                "signature does not match sha1(token, timestamp, nonce): check that the "
                "configured Token equals the one in the mini-program console (消息推送配置)",
            )
        if mode != "plain":
            # Signed by WeChat (checked above, so a forgery is a 401), but not in this shop's
            # mode: the console and the shop's settings disagree, or someone strips encryption.
            raise PushRejected(
                403,
                "encryption_required",
                f"this shop receives pushes in {mode} mode: only encrypt_type=aes with "
                "msg_signature is accepted; set the mini-program console's 消息加密方式 to match",
            )
        message = parse_body(body, content_type)
        if "Encrypt" in message:
            raise PushRejected(
                400,
                "encrypted_without_encrypt_type",
                "body is encrypted but the URL has no encrypt_type=aes; WeChat is in secure "
                "or compatible mode, so the request did not come through unmodified",
            )
        authenticated = body
    timestamp = _fresh_timestamp(query["timestamp"], time.time() if now is None else now)
    nonce = query["nonce"]
    if not _NONCE.fullmatch(nonce):
        raise PushRejected(400, "bad_nonce", "nonce must be 1-64 letters, digits, '-' or '_'")
    return _to_inbound(
        message,
        timestamp=timestamp,
        nonce=nonce,
        digest=hashlib.sha256(authenticated).hexdigest(),
    )


def _fresh_timestamp(value: str, now: float) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise PushRejected(400, "bad_timestamp", f"timestamp must be Unix seconds, got {value!r}")
    timestamp = int(value)
    if abs(now - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        raise PushRejected(
            401,
            "stale_timestamp",
            f"timestamp {timestamp} is {int(now - timestamp)} s from now; pushes more than "
            f"{MAX_CLOCK_SKEW_SECONDS} s from now (either way) are refused",
        )
    return timestamp


def verify_url(query: dict[str, str], *, token: str) -> str:
    """Handle WeChat's GET URL verification; returns ``echostr`` to be echoed verbatim."""
    _require_params(query, ("signature", "timestamp", "nonce", "echostr"), status=400)
    if not signature_matches(query["signature"], token, query["timestamp"], query["nonce"]):
        raise PushRejected(
            401,
            "bad_signature",
            "signature does not match sha1(token, timestamp, nonce): the Token configured here "
            "differs from the one entered in the mini-program console",
        )
    return query["echostr"]


def build_push(
    message: dict[str, Any],
    *,
    fmt: Literal["json", "xml"],
    token: str,
    appid: str,
    encoding_aes_key: str | None = None,
    secure: bool = False,
    timestamp: str | int | None = None,
    nonce: str | None = None,
    mode: PushMode | None = None,
) -> tuple[dict[str, str], bytes, str]:
    """Produce ``(query, body, content_type)`` exactly as WeChat would POST ``message``.

    Like WeChat, the query always carries ``signature`` and ``openid``; secure mode adds
    ``encrypt_type=aes`` and ``msg_signature`` and sends only ToUserName + Encrypt; compatible
    mode sends the same plus the message's fields in plaintext. ``mode`` defaults to secure
    when ``secure`` is set, plain otherwise.
    """
    mode = mode or ("secure" if secure else "plain")
    if fmt not in ("json", "xml"):
        raise ValueError(f"fmt must be 'json' or 'xml', not {fmt!r}")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce if nonce is not None else str(secrets.randbelow(9 * 10**9) + 10**9)
    serialize = _to_json if fmt == "json" else _to_xml
    content_type = _JSON_TYPE if fmt == "json" else _XML_TYPE

    query = {"signature": sha1_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if message.get("FromUserName"):
        query["openid"] = str(message["FromUserName"])
    if mode == "plain":
        return query, serialize(message), content_type

    if not encoding_aes_key:
        raise ValueError(f"{mode} mode needs encoding_aes_key")
    encrypted = WeChatCrypto(token, encoding_aes_key, appid).encrypt(
        serialize(message).decode("utf-8")
    )
    envelope = {"ToUserName": message.get("ToUserName", ""), "Encrypt": encrypted}
    if mode == "compatible":
        envelope = {**message, "Encrypt": encrypted}
    query["encrypt_type"] = "aes"
    query["msg_signature"] = sha1_signature(token, ts, nonce, encrypted)
    return query, serialize(envelope), content_type


# --- secure mode -----------------------------------------------------------------------------


def _open_secure(
    query: dict[str, str],
    body: bytes,
    content_type: str | None,
    token: str,
    encoding_aes_key: str | None,
    appid: str,
    *,
    allow_plaintext: bool,
) -> tuple[dict[str, Any], bytes]:
    """The decrypted message and its bytes (what msg_signature authenticated)."""
    if not encoding_aes_key:
        # Our misconfiguration, not the sender's: 5xx makes WeChat retry once it is fixed.
        raise PushRejected(
            500,
            "aes_key_not_configured",
            f"secure-mode push received but no EncodingAESKey is configured for appid {appid}",
        )
    _require_params(query, ("msg_signature", "timestamp", "nonce"), status=401)
    fmt = _detect_format(body, content_type)
    envelope = parse_body(body, content_type)
    encrypted = envelope.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise PushRejected(
            400, "missing_encrypt", "encrypt_type=aes but the body has no Encrypt field"
        )
    # Secure mode signs the ciphertext with msg_signature; the docs say not to use `signature`.
    if not signature_matches(
        query["msg_signature"], token, query["timestamp"], query["nonce"], encrypted
    ):
        raise PushRejected(
            401,
            "bad_signature",
            "msg_signature does not match sha1(token, timestamp, nonce, Encrypt): check the "
            "configured Token",
        )
    if not allow_plaintext and set(envelope) - _ENVELOPE_FIELDS:
        # WeChat's secure mode never sends the message in clear; a body that does is from a
        # console in compatible mode (then configure that) or was altered on the way.
        raise PushRejected(
            400,
            "plaintext_in_secure_mode",
            "this shop receives pushes in secure mode, but the body also carries plaintext "
            f"fields ({', '.join(sorted(set(envelope) - _ENVELOPE_FIELDS))}); if the console "
            "is in compatible mode (兼容模式), set the shop's push mode to compatible",
        )
    try:
        crypto = WeChatCrypto(token, encoding_aes_key, appid)
        plaintext, sender_appid = crypto.decrypt(encrypted)
    except WeChatCryptoError as exc:
        raise PushRejected(
            400,
            "decrypt_failed",
            f"cannot decrypt Encrypt ({exc}); check the configured EncodingAESKey",
        ) from exc
    if sender_appid != appid:
        raise PushRejected(
            403,
            "wrong_appid",
            f"push was encrypted for appid {sender_appid!r}, but this endpoint serves {appid!r}",
        )
    # The inner message uses the same data format as the envelope.
    authenticated = plaintext.encode("utf-8")
    inner = parse_body(authenticated, _JSON_TYPE if fmt == "json" else _XML_TYPE)
    if "Encrypt" in inner:
        raise PushRejected(
            400, "nested_envelope", "decrypted message is itself an encrypted envelope"
        )
    return inner, authenticated


# --- parsing ---------------------------------------------------------------------------------


def _detect_format(body: bytes, content_type: str | None) -> Literal["json", "xml"]:
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype.endswith("json"):
        return "json"
    if ctype.endswith("xml"):
        return "xml"
    first = body.lstrip()[:1]
    if first == b"{":
        return "json"
    if first == b"<":
        return "xml"
    raise PushRejected(
        400,
        "malformed_push",
        f"cannot tell the body format: Content-Type is {content_type!r} and the body starts "
        "with neither '{' nor '<'",
    )


def _decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PushRejected(400, "malformed_push", f"body is not UTF-8: {exc}") from exc


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(_decode_text(body))
    except json.JSONDecodeError as exc:
        raise PushRejected(400, "malformed_push", f"body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PushRejected(
            400, "malformed_push", f"JSON body must be an object, got {type(value).__name__}"
        )
    return value


def _parse_xml(body: bytes) -> dict[str, Any]:
    # defusedxml refuses DTDs/entities (billion laughs, XXE); never parse pushes with the stdlib.
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise PushRejected(400, "malformed_push", f"body is not acceptable XML: {exc}") from exc
    if root.tag != "xml":
        raise PushRejected(
            400, "malformed_push", f"XML root element must be <xml>, got <{root.tag}>"
        )
    value = _element_to_value(root)
    return value if isinstance(value, dict) else {}


def _element_to_value(element: Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    result: dict[str, Any] = {}
    for child in children:
        value = _element_to_value(child)
        if child.tag in result:  # repeated tags (e.g. list items in some events) become a list
            existing = result[child.tag]
            result[child.tag] = (
                [*existing, value] if isinstance(existing, list) else [existing, value]
            )
        else:
            result[child.tag] = value
    return result


def _validate(message: dict[str, Any], fmt: str) -> None:
    if "Encrypt" in message:
        for name in ("ToUserName", "Encrypt"):
            _require_str(message, name)
        return
    for name in ("ToUserName", "FromUserName", "MsgType"):
        _require_str(message, name)
    if "CreateTime" not in message:
        raise PushRejected(400, "malformed_push", "push is missing required field CreateTime")
    create_time = message["CreateTime"]
    if fmt == "xml" and isinstance(create_time, str) and create_time.strip().isdigit():
        message["CreateTime"] = int(create_time.strip())  # XML has no types; JSON must be int
    elif isinstance(create_time, bool) or not isinstance(create_time, int):
        raise PushRejected(
            400,
            "malformed_push",
            f"CreateTime must be an integer (Unix seconds), got {create_time!r}",
        )


def _require_str(message: dict[str, Any], name: str) -> str:
    if name not in message:
        raise PushRejected(400, "malformed_push", f"push is missing required field {name}")
    value = message[name]
    if not isinstance(value, str) or not value:
        raise PushRejected(
            400, "malformed_push", f"field {name} must be a non-empty string, got {value!r}"
        )
    return value


def _optional_str(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PushRejected(400, "malformed_push", f"field {name} must be a string, got {value!r}")
    return value


def _require_params(query: dict[str, str], names: tuple[str, ...], *, status: int) -> None:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise PushRejected(
            status,
            "missing_parameter",
            f"query parameter(s) {', '.join(missing)} missing; WeChat always sends "
            f"{', '.join(names)} on this request",
        )


def _to_inbound(
    message: dict[str, Any], *, timestamp: int = 0, nonce: str = "", digest: str = ""
) -> InboundPush:
    msg_type = message["MsgType"]
    msg_id = message.get("MsgId")
    if isinstance(msg_id, bool) or not isinstance(msg_id, int | str | None):
        raise PushRejected(
            400, "malformed_push", f"MsgId must be an integer or string, got {msg_id!r}"
        )
    event = _optional_str(message, "Event")
    session_from = _optional_str(message, "SessionFrom")

    content: dict[str, Any]
    if msg_type == "text":
        text = _optional_str(message, "Content")
        if text is None:
            raise PushRejected(400, "malformed_push", "text push is missing field Content")
        content = {"text": text}
    elif msg_type == "image":
        content = {
            "pic_url": _optional_str(message, "PicUrl"),
            "media_id": _optional_str(message, "MediaId"),
        }
    elif msg_type == "miniprogrampage":
        content = {
            "title": _optional_str(message, "Title"),
            "app_id": _optional_str(message, "AppId"),
            "page_path": _optional_str(message, "PagePath"),
            "thumb_url": _optional_str(message, "ThumbUrl"),
            "thumb_media_id": _optional_str(message, "ThumbMediaId"),
        }
    elif msg_type == "event":
        if not event:
            raise PushRejected(400, "malformed_push", "event push is missing field Event")
        content = {"event": event, "session_from": session_from}
    else:
        content = {}  # other types (voice, ...) are kept in raw for whoever handles them

    return InboundPush(
        to_user=message["ToUserName"],
        from_user=message["FromUserName"],
        create_time=message["CreateTime"],
        msg_type=msg_type,
        # As a string: MsgId is a 64-bit integer (beyond JS's 2**53) or, from cloud, a string.
        msg_id=None if msg_id in (None, "") else str(msg_id),
        event=event,
        session_from=session_from,
        content=content,
        raw=message,
        timestamp=timestamp,
        nonce=nonce,
        digest=digest,
    )


# --- serialization (build_push) --------------------------------------------------------------


def _to_json(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _to_xml(message: dict[str, Any]) -> bytes:
    return f"<xml>{_xml_fields(message)}</xml>".encode()


def _xml_fields(message: dict[str, Any]) -> str:
    parts = []
    for key, value in message.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                inner = _xml_fields(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                inner = str(item)  # WeChat writes numbers bare, strings as CDATA
            else:
                # "]]>" cannot appear inside CDATA; split it across two sections.
                inner = "<![CDATA[" + str(item).replace("]]>", "]]]]><![CDATA[>") + "]]>"
            parts.append(f"<{key}>{inner}</{key}>")
    return "".join(parts)
