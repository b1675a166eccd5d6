"""Specification: the shop's server links one person's identities with the signed app login —
a WeChat unionid, a phone (as its keyed hash) — and an identity that already belongs to another
customer is reported, never moved."""

import pytest
from kefu.customers import WECHAT_OPENID, WECHAT_UNIONID, Identity, find_identity, resolve_customer
from kefu.storage.customers import CustomerIdentity


@pytest.fixture
def shop(gateway, kefu_env):
    from tests.support.factories import make_shop

    make_shop("shop-a")


def test_an_app_user_with_a_known_unionid_is_the_wechat_customer(gateway, shop):
    wechat = resolve_customer(
        "shop-a", Identity(WECHAT_OPENID, "o-1"), also=Identity(WECHAT_UNIONID, "u-1")
    )
    answer = gateway.app_login("shop-a", "app-1", unionid="u-1").json()
    assert answer["customer_id"] == wechat.customer_id and "unlinked" not in answer


def test_a_phone_links_a_later_app_user_by_its_keyed_hash_only(gateway, shop):
    first = gateway.app_login("shop-a", "app-1", phone="138 1234 5678").json()["customer_id"]
    second = gateway.app_login("shop-a", "app-2", phone="+8613812345678").json()["customer_id"]
    assert second == first
    items = list(CustomerIdentity.query("shop-a", CustomerIdentity.sk.startswith("IDENTITY#phone")))
    assert len(items) == 1 and "13812345678" not in items[0].sk


def test_an_identity_of_another_customer_is_reported_and_left_where_it_is(gateway, shop):
    wechat = resolve_customer(
        "shop-a", Identity(WECHAT_OPENID, "o-1"), also=Identity(WECHAT_UNIONID, "u-1")
    )
    gateway.app_login("shop-a", "app-1")  # known before, without a unionid
    answer = gateway.app_login("shop-a", "app-1", unionid="u-1").json()
    assert answer["customer_id"] != wechat.customer_id
    assert answer["unlinked"] == ["wechat_unionid"]
    assert (
        find_identity("shop-a", Identity(WECHAT_UNIONID, "u-1")).customer_id == wechat.customer_id
    )


def test_a_bad_phone_is_a_400(gateway, shop):
    answer = gateway.app_login("shop-a", "app-1", phone="not-a-phone")
    assert answer.status == 400 and answer.error["code"] == "invalid_phone"
