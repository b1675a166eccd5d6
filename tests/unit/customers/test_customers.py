"""Specification: one person is one customer per shop, whatever channel identities they arrive
with, even when their first contacts race each other."""

import threading

from kefu.customers import (
    APP_USER,
    WECHAT_OPENID,
    WECHAT_UNIONID,
    Identity,
    find_identity,
    get_customer,
    public_profile,
    resolve_customer,
)
from kefu.storage.customers import CUSTOMER_PREFIX, Customer

from tests.support.factories import make_shop

OPENID_A = Identity(WECHAT_OPENID, "oOpenIdUnderAppA")
OPENID_B = Identity(WECHAT_OPENID, "oOpenIdUnderAppB")
UNIONID = Identity(WECHAT_UNIONID, "oUnionIdOfThePerson")


def _customers(shop_id="shop-a"):
    return list(Customer.query(shop_id, Customer.sk.startswith(CUSTOMER_PREFIX)))


def test_first_contact_creates_the_customer_and_later_contacts_find_it(kefu_env):
    make_shop("shop-a")
    first = resolve_customer("shop-a", OPENID_A, display_name="小王")
    again = resolve_customer("shop-a", OPENID_A, display_name="ignored")

    assert again.customer_id == first.customer_id
    (customer,) = _customers()
    profile = public_profile(customer)
    assert profile["customer_id"] == first.customer_id
    assert profile["display_name"] == "小王"
    assert profile["identities"] == ["wechat_openid:oOpenIdUnderAppA"]
    assert (first.kind, first.external_id) == (WECHAT_OPENID, "oOpenIdUnderAppA")


def test_a_unionid_that_arrives_with_the_first_openid_is_recorded_as_the_same_customer(kefu_env):
    make_shop("shop-a")
    identity = resolve_customer("shop-a", OPENID_A, also=UNIONID)
    assert find_identity("shop-a", UNIONID).customer_id == identity.customer_id
    assert get_customer("shop-a", identity.customer_id).identities == [
        "wechat_openid:oOpenIdUnderAppA",
        "wechat_unionid:oUnionIdOfThePerson",
    ]


def test_a_new_openid_with_a_known_unionid_joins_that_customer(kefu_env):
    make_shop("shop-a")
    first = resolve_customer("shop-a", OPENID_A, also=UNIONID)
    second = resolve_customer("shop-a", OPENID_B, also=UNIONID)

    assert second.customer_id == first.customer_id
    assert find_identity("shop-a", OPENID_B).customer_id == first.customer_id
    (customer,) = _customers()
    assert set(customer.identities) == {
        "wechat_openid:oOpenIdUnderAppA",
        "wechat_openid:oOpenIdUnderAppB",
        "wechat_unionid:oUnionIdOfThePerson",
    }


def test_without_a_shared_unionid_two_identities_are_two_customers(kefu_env):
    make_shop("shop-a")
    wechat = resolve_customer("shop-a", OPENID_A)
    app = resolve_customer("shop-a", Identity(APP_USER, "u-1001"))
    assert wechat.customer_id != app.customer_id
    assert len(_customers()) == 2


def test_the_same_identities_in_two_shops_are_two_customers(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    a = resolve_customer("shop-a", OPENID_A, also=UNIONID)
    b = resolve_customer("shop-b", OPENID_A, also=UNIONID)
    assert a.customer_id != b.customer_id
    assert get_customer("shop-a", b.customer_id) is None


def test_an_unknown_identity_or_customer_is_none(kefu_env):
    make_shop("shop-a")
    assert find_identity("shop-a", OPENID_A) is None
    assert get_customer("shop-a", "cu_nobody") is None


def _race(count, resolve):
    start = threading.Barrier(count)
    results, errors = [], []

    def run(i):
        start.wait()
        try:
            results.append(resolve(i))
        except Exception as exc:  # surfaced by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_first_contacts_of_one_identity_make_one_customer(kefu_env):
    make_shop("shop-a")
    results, errors = _race(4, lambda _: resolve_customer("shop-a", OPENID_A, also=UNIONID))

    assert not errors
    assert len({r.customer_id for r in results}) == 1
    (customer,) = _customers()
    assert customer.customer_id == results[0].customer_id
    assert find_identity("shop-a", UNIONID).customer_id == customer.customer_id


def test_concurrent_first_contacts_from_two_apps_of_one_person_make_one_customer(kefu_env):
    make_shop("shop-a")
    openids = [OPENID_A, OPENID_B]
    results, errors = _race(2, lambda i: resolve_customer("shop-a", openids[i], also=UNIONID))

    assert not errors
    assert len({r.customer_id for r in results}) == 1
    (customer,) = _customers()
    assert set(customer.identities) == {
        "wechat_openid:oOpenIdUnderAppA",
        "wechat_openid:oOpenIdUnderAppB",
        "wechat_unionid:oUnionIdOfThePerson",
    }
