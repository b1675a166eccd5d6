"""A shop with agents, a supervisor and an owner, and a helper for conversations."""

import pytest

from tests.support.factories import customer_says, make_shop, make_staff


@pytest.fixture
def shop(kefu_env):
    make_shop("shop-a")
    make_shop("shop-b")
    return {
        "agent1": make_staff("shop-a", "agent1", "agent"),
        "agent2": make_staff("shop-a", "agent2", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
        "owner": make_staff("shop-a", "owner", "owner"),
        "other": make_staff("shop-b", "agent1", "agent"),
    }


@pytest.fixture
def conversation():
    def make(openid: str, text: str = "在吗？", *, shop_id: str = "shop-a", at: int | None = None):
        return customer_says(shop_id, openid, text, at=at)

    return make
