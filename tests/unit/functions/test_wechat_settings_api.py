"""Specification (issue 8 §1): the owner saves the shop's WeChat settings — appid, push mode and
secrets — with `PUT /v1/shop/wechat-settings`; the secrets go to Secrets Manager and are never
answered or audited by value; the push mode then decides which pushes intake accepts."""

import json
import time

import boto3
import pytest
from kefu.channels.wechat.push import build_push
from kefu.config import settings
from kefu.ids import now_ms
from kefu.storage.audit import AuditRecord
from kefu.storage.shops import PROFILE, ShopProfile

from tests.support.factories import WECHAT, make_shop

URL = "/v1/shop/wechat-settings"
NEW = {
    "appid": "wx1234567890abcdef",
    "app_secret": "0123456789abcdef0123456789abcdef",
    "token": "newPushToken42",
    "encoding_aes_key": "Z" * 43,
}
SECRET_VALUES = [*NEW.values(), *WECHAT.values()]
SECRET_VALUES.remove(NEW["appid"])


def _secret(shop_id):
    profile = ShopProfile.get(shop_id, PROFILE)
    raw = boto3.client("secretsmanager").get_secret_value(SecretId=profile.wechat_secret_id)
    return profile, json.loads(raw["SecretString"])


def _no_secret_in(text):
    for value in SECRET_VALUES:
        assert value not in text, f"a secret value was echoed: {value}"


@pytest.fixture
def owner(kefu_env, staff_token):
    make_shop("shop-a")
    return staff_token("shop-a", "laoban", "owner")


def test_the_owner_reads_the_settings_with_which_secrets_are_set_never_their_values(gateway, owner):
    answer = gateway.get(URL, token=owner)
    assert answer.status == 200, answer.text
    assert answer.json() == {
        "appid": "wxshopa",
        "push_mode": "secure",  # nothing stored, and the shop has an EncodingAESKey
        "secrets_set": {"app_secret": True, "token": True, "encoding_aes_key": True},
        "push_path": "/v1/wechat/shop-a/push",
        "updated_at": None,
    }
    _no_secret_in(answer.text)


def test_saving_writes_the_secrets_stores_the_mode_and_leaves_an_audit_record_without_values(
    gateway, owner
):
    answer = gateway.request("PUT", URL, token=owner, json_body={**NEW, "push_mode": "compatible"})
    assert answer.status == 200, answer.text
    body = answer.json()
    assert (body["appid"], body["push_mode"]) == (NEW["appid"], "compatible")
    assert body["secrets_set"] == {"app_secret": True, "token": True, "encoding_aes_key": True}
    _no_secret_in(answer.text)

    profile, secret = _secret("shop-a")
    assert secret == {k: NEW[k] for k in ("app_secret", "token", "encoding_aes_key")}
    assert (profile.wechat_appid, profile.wechat_push_mode) == (NEW["appid"], "compatible")
    assert profile.wechat_secret_id == f"kefu/{settings().stage}/shops/shop-a/wechat"

    records = list(AuditRecord.query("shop-a"))
    audited = [r for r in records if r.action == "shop.wechat_settings_updated"]
    assert len(audited) == 1
    record = audited[0].to_public()
    assert (record["actor"], record["target_type"], record["target_id"]) == (
        audited[0].actor,
        "shop",
        "shop-a",
    )
    assert record["before"]["push_mode"] == "secure"
    assert record["after"]["push_mode"] == "compatible"
    assert record["after"]["secrets_changed"] == ["app_secret", "encoding_aes_key", "token"]
    _no_secret_in(json.dumps(record, ensure_ascii=False))
    assert gateway.get(URL, token=owner).json() == body


def test_secrets_left_out_keep_their_values(gateway, owner):
    answer = gateway.request("PUT", URL, token=owner, json_body={"appid": "wxshopa"})
    assert answer.status == 200, answer.text
    assert answer.json()["push_mode"] == "secure"  # saved explicitly now
    _, secret = _secret("shop-a")
    assert secret == WECHAT
    assert ShopProfile.get("shop-a", PROFILE).wechat_push_mode == "secure"


def test_a_shop_without_wechat_gets_its_secret_at_the_conventional_id(gateway, staff_token):
    ShopProfile("shop-b", name="Shop B", created_at=now_ms()).save()
    owner = staff_token("shop-b", "laoban", "owner")
    empty = gateway.get(URL, token=owner).json()
    assert (empty["appid"], empty["push_mode"], set(empty["secrets_set"].values())) == (
        None,
        None,
        {False},
    )
    missing = gateway.request("PUT", URL, token=owner, json_body={"appid": "wxshopb"})
    assert (missing.status, missing.error["code"]) == (400, "missing_secret")

    sent = {k: NEW[k] for k in ("app_secret", "token")}
    answer = gateway.request("PUT", URL, token=owner, json_body={"appid": "wxshopb", **sent})
    assert answer.status == 200, answer.text
    assert answer.json()["push_mode"] == "plain"  # no EncodingAESKey
    profile, secret = _secret("shop-b")
    assert profile.wechat_secret_id == f"kefu/{settings().stage}/shops/shop-b/wechat"
    assert secret == sent


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_the_owner_reads_or_saves_the_settings(gateway, owner, staff_token, role):
    token = staff_token("shop-a", f"{role}-1", role)
    for method, body in (("GET", None), ("PUT", {**NEW, "push_mode": "secure"})):
        answer = gateway.request(method, URL, token=token, json_body=body)
        assert (answer.status, answer.error["code"]) == (403, "permission_denied"), answer.text
        _no_secret_in(answer.text)
    _, secret = _secret("shop-a")
    assert secret == WECHAT
    assert not [r for r in AuditRecord.query("shop-a") if r.action.startswith("shop.wechat")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"appid": "wxshopa", "push_mode": "plain"}, "plain_mode_with_aes_key"),
        ({"appid": "wxshopa", "push_mode": "secure", "encoding_aes_key": ""}, "aes_key_required"),
        (
            {"appid": "wxshopa", "push_mode": "compatible", "encoding_aes_key": ""},
            "aes_key_required",
        ),
        ({"appid": "wxshopa", "push_mode": "paranoid"}, "validation_error"),
        ({"appid": "wxshopa", "token": "has space"}, "validation_error"),
        ({"appid": "wxshopa", "encoding_aes_key": "short"}, "validation_error"),
        ({"appid": "not-an-appid"}, "validation_error"),
        ({"appid": "wxshopa", "secret": "x"}, "validation_error"),
        ({"push_mode": "secure"}, "validation_error"),
    ],
)
def test_invalid_settings_are_400_and_change_nothing(gateway, owner, body, code):
    answer = gateway.request("PUT", URL, token=owner, json_body=body)
    assert (answer.status, answer.error["code"]) == (400, code), answer.text
    _, secret = _secret("shop-a")
    assert secret == WECHAT
    assert ShopProfile.get("shop-a", PROFILE).wechat_push_mode is None


def test_missing_credentials_are_401(gateway, owner):
    assert gateway.get(URL).status == 401
    assert gateway.request("PUT", URL, json_body={"appid": "wxshopa"}).status == 401


def test_the_saved_push_mode_is_what_intake_enforces(gateway, owner):
    from kefu import secrets, shops

    def plain_push(msg_id):
        message = {
            "ToUserName": "gh_97417a04a28d",
            "FromUserName": "oUser-1",
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": "在吗",
            "MsgId": msg_id,
        }
        query, raw, ctype = build_push(message, fmt="json", token=WECHAT["token"], appid="wxshopa")
        return gateway.post(
            "/v1/wechat/shop-a/push", query=query, body=raw, headers={"Content-Type": ctype}
        )

    assert plain_push(1).status == 403  # the factory's shop has an EncodingAESKey
    saved = gateway.request(
        "PUT",
        URL,
        token=owner,
        json_body={"appid": "wxshopa", "push_mode": "plain", "encoding_aes_key": ""},
    )
    assert saved.status == 200, saved.text
    assert saved.json()["secrets_set"]["encoding_aes_key"] is False
    _, secret = _secret("shop-a")
    assert "encoding_aes_key" not in secret
    shops.clear_cache()  # what every intake instance does within its caches' lifetimes
    secrets.clear_cache()
    answer = plain_push(2)
    assert (answer.status, answer.text) == (200, "success")
