"""Specification: the intake function over HTTP — customers' messages from kefu's client API and
from WeChat's push, through API Gateway REST proxy events routed by template.yaml."""

import json

import boto3
import pytest
from kefu.channels.wechat.push import build_push
from kefu.customers import WECHAT_OPENID, Identity, find_identity
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key

from tests.support.factories import WECHAT, make_shop

TEXT = "你好，我的订单什么时候发货？"


def _wechat_messages(shop_id, openid):
    """Every message stored for the WeChat user `openid`, oldest first."""
    identity = find_identity(shop_id, Identity(WECHAT_OPENID, openid))
    if identity is None:
        return []
    convs = Conversation.by_customer.query(f"{shop_id}#{identity.customer_id}")
    return [
        m for conv in convs for m in Message.query(conversation_key(shop_id, conv.conversation_id))
    ]


def _appid(shop_id):
    return f"wx{shop_id.replace('-', '')}"


def _push(message, *, fmt, secure, shop_id="shop-a", appid=None, token=None, **kw):
    return build_push(
        message,
        fmt=fmt,
        token=token or WECHAT["token"],
        appid=appid or _appid(shop_id),
        encoding_aes_key=WECHAT["encoding_aes_key"],
        secure=secure,
        **kw,
    )


def _make_plain_shop(shop_id="shop-a"):
    """A shop with no EncodingAESKey: the only kind that accepts plain-mode pushes."""
    shop = make_shop(shop_id)
    secret = {k: v for k, v in WECHAT.items() if k != "encoding_aes_key"}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=shop.wechat_secret_id, SecretString=json.dumps(secret)
    )
    return shop


def _make_shop(shop_id="shop-a", *, secure):
    return make_shop(shop_id) if secure else _make_plain_shop(shop_id)


def _text_push(openid="oUser-1", msg_id=6054768590064713728, text="你好，我的订单还没到"):
    return {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": openid,
        "CreateTime": 1700000000,
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id,
    }


# ------------------------------------------------------------------------ client API: happy path


def test_a_sent_message_is_read_back_and_polling_after_it_returns_nothing_new(gateway):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a", "u-1")
    sent = gateway.post("/v1/messages", token=token, json_body={"type": "text", "text": TEXT})
    assert sent.status == 201, sent.text
    assert sent.json()["duplicate"] is False
    assert sent.json()["message"]["content"] == {"text": TEXT}
    assert "sender_id" not in sent.json()["message"]  # staff-only detail

    page = gateway.get("/v1/messages", token=token)
    assert page.status == 200, page.text
    body = page.json()
    assert body["conversation_id"] == sent.json()["conversation_id"]
    assert [m["content"]["text"] for m in body["messages"]] == [TEXT]
    assert body["next_cursor"] == body["messages"][-1]["cursor"]
    assert body["has_more"] is False

    # API Gateway hands the handler the decoded value of ?after=...%23...
    again = gateway.get("/v1/messages", token=token, query={"after": body["next_cursor"]})
    assert again.status == 200, again.text
    assert again.json()["messages"] == []
    assert again.json()["next_cursor"] == body["next_cursor"]
    assert again.json()["has_more"] is False


def test_a_retried_send_with_the_same_client_message_id_is_stored_once(gateway):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    message = {"type": "text", "text": "在吗？", "client_message_id": "c-1700000000000-1"}
    first = gateway.post("/v1/messages", token=token, json_body=message)
    second = gateway.post("/v1/messages", token=token, json_body=message)
    assert (first.status, second.status) == (201, 200)
    assert second.json()["duplicate"] is True
    assert second.json()["message"]["message_id"] == first.json()["message"]["message_id"]
    assert len(gateway.get("/v1/messages", token=token).json()["messages"]) == 1


def test_a_customer_cannot_read_another_customers_conversation(gateway):
    make_shop("shop-a")
    alice = gateway.customer_token("shop-a", "alice")
    bob = gateway.customer_token("shop-a", "bob")
    sent = gateway.post("/v1/messages", token=alice, json_body={"type": "text", "text": "hi"})
    conv = sent.json()["conversation_id"]
    answer = gateway.get("/v1/messages", token=bob, query={"conversation_id": conv})
    assert answer.status == 404
    assert answer.error["code"] == "conversation_not_found"


def test_media_upload_returns_a_presigned_post_under_the_customer(gateway):
    make_shop("shop-a")
    login = gateway.app_login("shop-a", "u-1").json()
    answer = gateway.post(
        "/v1/media/uploads",
        token=login["token"],
        json_body={"content_type": "image/jpeg", "size": 1024},
    )
    assert answer.status == 201, answer.text
    assert answer.json()["media_key"].startswith(f"shop-a/customers/{login['customer_id']}/")
    assert answer.json()["upload"]["url"] and answer.json()["upload"]["fields"]
    refused = gateway.post(
        "/v1/media/uploads",
        token=login["token"],
        json_body={"content_type": "application/x-msdownload", "size": 1024},
    )
    assert refused.status == 400 and refused.error["code"] == "unsupported_media"


# ------------------------------------------------------------------------ client API: refusals


@pytest.mark.parametrize(
    ("body", "code", "names"),
    [
        ('{"type": "text", "text": ', "malformed_json", "JSON"),
        ("{'type': 'text', 'text': 'hi'}", "malformed_json", "JSON"),
        ('{"type": "text", "text": 42}', "validation_error", "$.text"),
        ('{"type": "text", "text": "hi", "urgent": true}', "validation_error", "urgent"),
        ('{"type": "video", "media_key": "x"}', "validation_error", "video"),
        ('{"type": "text", "text": ""}', "validation_error", "$.text"),
        (
            '{"type": "voice", "media_key": "k", "duration_ms": 70000}',
            "validation_error",
            "duration_ms",
        ),
        ("", "empty_body", "empty"),
        ("   ", "empty_body", "empty"),
    ],
)
def test_bad_message_bodies_are_400_with_a_code_and_a_message_naming_the_problem(
    gateway, body, code, names
):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    answer = gateway.post("/v1/messages", token=token, body=body)
    assert answer.status == 400, answer.text
    assert answer.content_type.startswith("application/json")
    assert answer.error["code"] == code
    assert names in answer.error["message"]
    assert answer.error["request_id"] == gateway.last_event["requestContext"]["requestId"]


def test_a_body_over_64_kib_is_413(gateway):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    answer = gateway.post(
        "/v1/messages", token=token, json_body={"type": "text", "text": "长" * 30_000}
    )
    assert answer.status == 413
    assert answer.error["code"] == "payload_too_large"


GARBLED = [
    (None, "missing_token"),
    ("", "missing_token"),
    ("Bearer", "missing_token"),
    ("Basic dXNlcjpwYXNz", "missing_token"),
    ("Bearer not-a-jwt", "invalid_token"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "invalid_token"),
]


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", "/v1/messages"), ("GET", "/v1/messages"), ("POST", "/v1/media/uploads")],
)
def test_missing_or_garbled_credentials_are_401(gateway, method, url):
    make_shop("shop-a")
    for authorization, code in GARBLED:
        headers = {} if authorization is None else {"Authorization": authorization}
        json_body = {"type": "text", "text": "hi"} if method == "POST" else None
        answer = gateway.request(method, url, headers=headers, json_body=json_body)
        assert answer.status == 401, (authorization, answer.text)
        assert answer.error["code"] == code, authorization
        assert answer.error["message"]


def test_a_staff_token_is_not_a_customer_token(gateway, staff_token):
    make_shop("shop-a")
    token = staff_token("shop-a", "owner1", "owner")
    answer = gateway.get("/v1/messages", token=token)
    assert answer.status == 401 and answer.error["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "many"}, "invalid_limit"),
        ({"after": "yesterday"}, "invalid_cursor"),
        ({"after": "1700000000000#a", "before": "1700000000000#b"}, "invalid_cursor"),
    ],
)
def test_bad_paging_parameters_are_400(gateway, query, code):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    gateway.post("/v1/messages", token=token, json_body={"type": "text", "text": "hi"})
    answer = gateway.get("/v1/messages", token=token, query=query)
    assert answer.status == 400 and answer.error["code"] == code


def test_a_body_that_is_not_json_by_content_type_is_415_in_the_common_error_shape(gateway):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    answer = gateway.post(
        "/v1/messages", token=token, body="hi", headers={"Content-Type": "text/plain"}
    )
    assert answer.status == 415
    assert answer.error["code"] == "unsupported_media_type"


def test_an_unexpected_failure_is_a_500_in_the_common_shape_without_details(
    gateway, monkeypatch, function_module
):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")
    intake = function_module("IntakeFunction")

    def broken(*args, **kwargs):
        raise RuntimeError("dynamodb endpoint https://internal.example exploded")

    monkeypatch.setattr(intake, "receive_from_client", broken)
    answer = gateway.post(
        "/v1/messages", token=token, json_body={"type": "text", "text": "hi"}, crash_expected=True
    )
    assert answer.status == 500
    assert answer.error["code"] == "internal_error"
    assert answer.error["request_id"] == gateway.last_event["requestContext"]["requestId"]
    assert "internal.example" not in answer.text


# ------------------------------------------------------------------------ WeChat push


def test_url_verification_echoes_echostr_as_plain_text(gateway):
    make_shop("shop-a")
    query, _, _ = _push({}, fmt="json", secure=False)
    answer = gateway.get("/v1/wechat/shop-a/push", query={**query, "echostr": "4309728403274328"})
    assert answer.status == 200
    assert answer.text == "4309728403274328"
    assert answer.content_type.startswith("text/plain")


def test_url_verification_with_a_bad_signature_is_401(gateway):
    make_shop("shop-a")
    query, _, _ = _push({}, fmt="json", secure=False, token="not-the-token")
    answer = gateway.get("/v1/wechat/shop-a/push", query={**query, "echostr": "42"})
    assert answer.status == 401
    assert "42" not in answer.text


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])
def test_a_push_in_each_format_and_mode_is_acknowledged_and_stored(gateway, kefu_env, fmt, secure):
    _make_shop("shop-a", secure=secure)
    query, body, content_type = _push(_text_push(), fmt=fmt, secure=secure)
    answer = gateway.post(
        "/v1/wechat/shop-a/push", query=query, body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == 200, answer.text
    assert answer.text == "success"
    stored = _wechat_messages("shop-a", "oUser-1")
    assert [(m.type, m.content["text"]) for m in stored] == [("text", "你好，我的订单还没到")]
    assert stored[0].channel_message_id == "6054768590064713728"
    assert [e["data"]["message_id"] for e in kefu_env.events("message.received")] == [
        stored[0].message_id
    ]


def test_the_same_secure_push_sent_three_times_is_stored_once(gateway):
    make_shop("shop-a")
    query, body, content_type = _push(_text_push(), fmt="xml", secure=True)
    for _ in range(3):
        answer = gateway.post(
            "/v1/wechat/shop-a/push",
            query=query,
            body=body,
            headers={"Content-Type": content_type},
        )
        assert (answer.status, answer.text) == (200, "success")
    stored = _wechat_messages("shop-a", "oUser-1")
    assert len(stored) == 1
    conv = Conversation.get("shop-a", stored[0].conversation_id)
    assert conv.message_count == 1


def test_a_secure_push_encrypted_for_another_appid_is_403(gateway):
    make_shop("shop-a")
    query, body, content_type = _push(_text_push(), fmt="json", secure=True, appid="wxsomeoneelse")
    answer = gateway.post(
        "/v1/wechat/shop-a/push", query=query, body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == 403
    assert _wechat_messages("shop-a", "oUser-1") == []


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secure"])
def test_a_push_with_a_bad_signature_is_401_and_not_stored(gateway, secure):
    _make_shop("shop-a", secure=secure)
    query, body, content_type = _push(_text_push(), fmt="json", secure=secure, token="wrong")
    answer = gateway.post(
        "/v1/wechat/shop-a/push", query=query, body=body, headers={"Content-Type": content_type}
    )
    assert answer.status == 401
    assert _wechat_messages("shop-a", "oUser-1") == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_push_for_an_unknown_shop_is_404(gateway, method):
    make_shop("shop-a")
    query, body, content_type = _push(_text_push(), fmt="json", secure=False)
    answer = gateway.request(
        method,
        "/v1/wechat/no-such-shop/push",
        query={**query, "echostr": "1"} if method == "GET" else query,
        body=body if method == "POST" else None,
        headers={"Content-Type": content_type},
    )
    assert answer.status == 404
    assert answer.error["code"] == "shop_not_found"


def test_an_oversized_or_malformed_push_is_refused_without_a_crash(gateway):
    _make_plain_shop("shop-a")
    query, _, _ = _push(_text_push(), fmt="xml", secure=False)
    big = gateway.post(
        "/v1/wechat/shop-a/push",
        query=query,
        body="<xml>" + "x" * 70_000 + "</xml>",
        headers={"Content-Type": "text/xml"},
    )
    assert big.status == 413
    for body in ("<xml><ToUserName>", "<!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>", "{}"):
        answer = gateway.post(
            "/v1/wechat/shop-a/push",
            query=query,
            body=body,
            headers={"Content-Type": "text/xml" if body.startswith("<") else "application/json"},
        )
        assert answer.status == 400, (body, answer.text)
    assert _wechat_messages("shop-a", "oUser-1") == []
