"""Specification (issue 8 §1): a WeChat push is accepted only in the shop's push mode, only while
its timestamp is fresh, and only once per (shop, timestamp, nonce) — yet WeChat's own retry of
the same push is still acknowledged and stored once. Refusals are 4xx with a reason code, logged
and counted, and store nothing."""

import json
import logging
import time

import boto3
import botocore.client
import pytest
from kefu.channels.wechat.push import build_push
from kefu.customers import WECHAT_OPENID, Identity, find_identity
from kefu.storage.conversations import Conversation
from kefu.storage.messages import Message, conversation_key
from kefu.storage.shops import PROFILE, ShopProfile

from tests.support.factories import WECHAT, make_shop

SHOP = "shop-a"
URL = f"/v1/wechat/{SHOP}/push"


def _text(openid="oUser-1", msg_id=6054768590064713728, text="你好，我的订单还没到"):
    return {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id,
    }


def _enter(openid="oUser-1"):
    return {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "user_enter_tempsession",
        "SessionFrom": "order:42",
    }


def _build(message, *, mode, fmt="json", **kw):
    return build_push(
        message,
        fmt=fmt,
        token=WECHAT["token"],
        appid=f"wx{SHOP.replace('-', '')}",
        encoding_aes_key=WECHAT["encoding_aes_key"],
        mode=mode,
        **kw,
    )


def _post(gateway, query, body, content_type):
    return gateway.post(URL, query=query, body=body, headers={"Content-Type": content_type})


def _shop(*, aes_key=True, mode=None):
    shop = make_shop(SHOP)
    if not aes_key:
        secret = {k: v for k, v in WECHAT.items() if k != "encoding_aes_key"}
        boto3.client("secretsmanager").put_secret_value(
            SecretId=shop.wechat_secret_id, SecretString=json.dumps(secret)
        )
    if mode:
        ShopProfile(SHOP, PROFILE).update([ShopProfile.wechat_push_mode.set(mode)])
    return shop


def _stored(openid="oUser-1"):
    identity = find_identity(SHOP, Identity(WECHAT_OPENID, openid))
    if identity is None:
        return []
    convs = Conversation.by_customer.query(f"{SHOP}#{identity.customer_id}")
    return [m for c in convs for m in Message.query(conversation_key(SHOP, c.conversation_id))]


def _texts(openid="oUser-1"):
    return [m.content["text"] for m in _stored(openid)]


def _refused_metrics(output: str) -> list[str]:
    """The reason dimension of every WeChatPushRefused EMF record printed to stdout."""
    reasons = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            names = [m["Name"] for m in directive["Metrics"]]
            if "WeChatPushRefused" in names and directive["Namespace"] == "kefu":
                assert directive["Dimensions"] == [["reason"]]
                reasons.append(record["reason"])
    return reasons


def _assert_refused(answer, status, reason, capsys, caplog):
    assert answer.status == status, answer.text
    assert answer.text.startswith(f"{reason}: "), answer.text
    assert reason in _refused_metrics(capsys.readouterr().out)
    logged = [r for r in caplog.records if getattr(r, "reason", None) == reason]
    assert logged and logged[-1].shop_id == SHOP


@pytest.fixture(autouse=True)
def _log_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="kefu.intake")


# --------------------------------------------------------------------------------- push mode


@pytest.mark.parametrize("stored_mode", [None, "plain"], ids=["default", "stored-plain"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_valid_plain_push_to_a_shop_with_an_aes_key_is_refused_and_nothing_is_stored(
    gateway, kefu_env, capsys, caplog, stored_mode, fmt
):
    _shop(mode=stored_mode)
    answer = _post(gateway, *_build(_text(), mode="plain", fmt=fmt))
    _assert_refused(answer, 403, "encryption_required", capsys, caplog)
    assert find_identity(SHOP, Identity(WECHAT_OPENID, "oUser-1")) is None
    assert kefu_env.events() == []


def test_a_shop_without_an_aes_key_still_takes_plain_pushes(gateway):
    _shop(aes_key=False)
    answer = _post(gateway, *_build(_text(), mode="plain"))
    assert (answer.status, answer.text) == (200, "success")
    assert _texts() == ["你好，我的订单还没到"]


def test_secure_mode_takes_only_the_envelope_with_a_valid_msg_signature(gateway, capsys, caplog):
    _shop(mode="secure")
    query, body, ctype = _build(_text(), mode="compatible")
    _assert_refused(
        _post(gateway, query, body, ctype), 400, "plaintext_in_secure_mode", capsys, caplog
    )
    query, body, ctype = _build(_text(), mode="secure")
    forged = {**query, "msg_signature": "0" * 40}
    _assert_refused(_post(gateway, forged, body, ctype), 401, "bad_signature", capsys, caplog)
    assert _texts() == []
    assert (_post(gateway, query, body, ctype).status, _texts()) == (200, ["你好，我的订单还没到"])


def test_compatible_mode_stores_the_encrypted_copy_and_ignores_the_plaintext_fields(gateway):
    _shop(mode="compatible")
    query, body, ctype = _build(_text(), mode="compatible")
    envelope = json.loads(body)
    tampered = {**envelope, "FromUserName": "oIntruder", "Content": "把钱退给我", "MsgId": 1}
    answer = _post(gateway, query, json.dumps(tampered, ensure_ascii=False), ctype)
    assert (answer.status, answer.text) == (200, "success")
    assert _texts() == ["你好，我的订单还没到"]
    assert _stored()[0].channel_message_id == "6054768590064713728"
    assert find_identity(SHOP, Identity(WECHAT_OPENID, "oIntruder")) is None


def test_compatible_mode_refuses_the_plaintext_alone(gateway, capsys, caplog):
    _shop(mode="compatible")
    answer = _post(gateway, *_build(_text(), mode="plain"))
    _assert_refused(answer, 403, "encryption_required", capsys, caplog)


# --------------------------------------------------------------------------------- freshness


@pytest.mark.parametrize("offset", [-330, 330, -7200], ids=["old", "ahead", "2-h-old"])
@pytest.mark.parametrize("mode", ["plain", "secure"])
def test_a_push_more_than_300_s_from_now_is_refused(
    gateway, kefu_env, capsys, caplog, offset, mode
):
    _shop(aes_key=mode == "secure")
    answer = _post(gateway, *_build(_text(), mode=mode, timestamp=int(time.time()) + offset))
    _assert_refused(answer, 401, "stale_timestamp", capsys, caplog)
    assert _texts() == []
    assert kefu_env.events() == []


# --------------------------------------------------------------------------------- replays


@pytest.mark.parametrize(
    "replayed",
    [
        _text(msg_id=7000000000000000001, text="我要退款"),  # another message
        _text(text="我要退款"),  # the same MsgId, another text: not a retry either
        _text(openid="oNewcomer", msg_id=7000000000000000002),  # first contact of someone else
    ],
    ids=["other-msgid", "same-msgid-other-text", "other-sender"],
)
def test_a_captured_plain_push_replayed_with_another_body_is_refused(
    gateway, kefu_env, capsys, caplog, replayed
):
    # Plain mode's signature covers token, timestamp and nonce only: whoever saw one push URL
    # could attach any body to it. The (timestamp, nonce) is remembered with the message.
    _shop(aes_key=False)
    query, body, ctype = _build(_text(), mode="plain")
    assert _post(gateway, query, body, ctype).status == 200
    _, other, _ = _build(replayed, mode="plain")
    _assert_refused(_post(gateway, query, other, ctype), 401, "replayed_nonce", capsys, caplog)
    assert _texts() == ["你好，我的订单还没到"]
    assert find_identity(SHOP, Identity(WECHAT_OPENID, "oNewcomer")) is None
    assert len(kefu_env.events("message.received")) == 1


def test_a_replayed_nonce_is_refused_in_secure_mode_too(gateway, capsys, caplog):
    _shop()
    now = int(time.time())
    first = _build(_text(), mode="secure", timestamp=now, nonce="424242")
    assert _post(gateway, *first).status == 200
    other = _build(_text(msg_id=7000000000000000003), mode="secure", timestamp=now, nonce="424242")
    _assert_refused(_post(gateway, *other), 401, "replayed_nonce", capsys, caplog)
    assert _texts() == ["你好，我的订单还没到"]


def test_a_replayed_event_push_is_refused(gateway, kefu_env, capsys, caplog):
    _shop(aes_key=False)
    query, body, ctype = _build(_enter(), mode="plain")
    assert _post(gateway, query, body, ctype).status == 200
    _, other, _ = _build(_enter(openid="oNewcomer"), mode="plain")
    _assert_refused(_post(gateway, query, other, ctype), 401, "replayed_nonce", capsys, caplog)
    assert find_identity(SHOP, Identity(WECHAT_OPENID, "oNewcomer")) is None
    assert len(kefu_env.events("customer.entered_session")) == 1


# ------------------------------------------------------------------------ WeChat's own retries


@pytest.mark.parametrize("mode", ["plain", "secure", "compatible"])
def test_wechat_retrying_the_same_push_is_acknowledged_each_time_and_stored_once(
    gateway, kefu_env, mode
):
    _shop(aes_key=mode != "plain", mode=mode)
    request = _build(_text(), mode=mode, fmt="xml")  # the same timestamp, nonce and body
    answers = [_post(gateway, *request) for _ in range(3)]
    assert [(a.status, a.text) for a in answers] == [(200, "success")] * 3
    stored = _stored()
    assert len(stored) == 1
    assert Conversation.get(SHOP, stored[0].conversation_id).message_count == 1
    # Re-published with the same event id each time; consumers drop the repeats.
    assert {e["data"]["message_id"] for e in kefu_env.events("message.received")} == {
        stored[0].message_id
    }


def test_a_retry_completes_a_push_whose_events_were_lost(gateway, kefu_env, function_module):
    """Stored, then PutEvents failed (WeChat got a 500): the retry — same nonce — is not a
    replay; it is acknowledged and publishes the events the first attempt lost."""
    from kefu import events

    _shop()
    request = _build(_text(), mode="secure")
    real_publish = events.publish
    calls = []

    def failing_once(*published):
        calls.append(published)
        if len(calls) == 1:
            raise RuntimeError("EventBridge unavailable")
        return real_publish(*published)

    events.publish = failing_once
    try:
        first = gateway.request(
            "POST",
            URL,
            query=request[0],
            body=request[1],
            headers={"Content-Type": request[2]},
            crash_expected=True,
        )
        assert first.status == 500
        assert kefu_env.events("message.received") == []
        retry = _post(gateway, *request)
    finally:
        events.publish = real_publish
    assert (retry.status, retry.text) == (200, "success")
    stored = _stored()
    assert len(stored) == 1
    assert [e["data"]["message_id"] for e in kefu_env.events("message.received")] == [
        stored[0].message_id
    ]


def test_a_known_customers_push_still_costs_getitem_transactwriteitems_putevents(
    gateway, monkeypatch
):
    _shop()
    assert _post(gateway, *_build(_text(), mode="secure")).status == 200  # warms the caches
    calls = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    answer = _post(
        gateway, *_build(_text(msg_id=7000000000000000004, text="还在吗"), mode="secure")
    )
    assert answer.status == 200
    assert calls == ["GetItem", "TransactWriteItems", "PutEvents"]


def test_the_nonce_is_remembered_only_while_its_timestamp_is_acceptable(gateway):
    from kefu.storage.runtime import PushNonce

    _shop()
    now = int(time.time())
    assert _post(gateway, *_build(_text(), mode="secure", timestamp=now, nonce="777")).status == 200
    item = PushNonce.get(PushNonce.key(SHOP, now, "777"))
    # 300 s of accepted clock skew and a minute's margin: after that the timestamp is refused.
    assert item.expires_at == now + 300 + 60
    assert len(item.digest) == 64
