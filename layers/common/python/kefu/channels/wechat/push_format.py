"""WeChat push bodies as data: JSON or XML in, a dict out (parsing, with the checks every push
must pass), and back (``kefu.channels.wechat.push.build_push``). Authentication — signatures,
decryption, push modes, freshness — is kefu.channels.wechat.push's job."""

from __future__ import annotations

import json
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException


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


# --- parsing ---------------------------------------------------------------------------------


def detect_format(body: bytes, content_type: str | None) -> Literal["json", "xml"]:
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


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PushRejected(400, "malformed_push", f"body is not UTF-8: {exc}") from exc


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(decode_text(body))
    except json.JSONDecodeError as exc:
        raise PushRejected(400, "malformed_push", f"body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PushRejected(
            400, "malformed_push", f"JSON body must be an object, got {type(value).__name__}"
        )
    return value


def parse_xml(body: bytes) -> dict[str, Any]:
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


def validate_message(message: dict[str, Any], fmt: str) -> None:
    if "Encrypt" in message:
        for name in ("ToUserName", "Encrypt"):
            require_str(message, name)
        return
    for name in ("ToUserName", "FromUserName", "MsgType"):
        require_str(message, name)
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


def require_str(message: dict[str, Any], name: str) -> str:
    if name not in message:
        raise PushRejected(400, "malformed_push", f"push is missing required field {name}")
    value = message[name]
    if not isinstance(value, str) or not value:
        raise PushRejected(
            400, "malformed_push", f"field {name} must be a non-empty string, got {value!r}"
        )
    return value


def optional_str(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PushRejected(400, "malformed_push", f"field {name} must be a string, got {value!r}")
    return value


# --- serialization (build_push) --------------------------------------------------------------


def to_json(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def to_xml(message: dict[str, Any]) -> bytes:
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
