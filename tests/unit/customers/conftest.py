"""A shop with staff of each role and two customers, for the profile specifications."""

import pytest
from kefu.customers import APP_USER, WECHAT_OPENID, Identity, resolve_customer

from tests.support.factories import make_shop, make_staff


@pytest.fixture
def crm(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    staff = {
        "owner": make_staff("shop-a", "boss", "owner"),
        "supervisor": make_staff("shop-a", "sue", "supervisor"),
        "agent": make_staff("shop-a", "amy", "agent"),
        "other_shop": make_staff("shop-b", "bob", "owner"),
    }
    ming = resolve_customer("shop-a", Identity(WECHAT_OPENID, "o-ming"), display_name="小明")
    alice = resolve_customer("shop-a", Identity(APP_USER, "alice"), display_name="Alice")
    return {**staff, "ming": ming.customer_id, "alice": alice.customer_id, "env": kefu_env}
