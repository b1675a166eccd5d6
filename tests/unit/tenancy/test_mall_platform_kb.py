"""Specification: a mall's platform-wide knowledge base — the bot of a shop in mall M answers from
M's platform entries and never from another mall's; a shop outside any mall answers from none;
only M's platform staff (role "platform" at M's operator shop) write them."""

from __future__ import annotations

import pytest
from kefu.errors import Forbidden
from kefu.knowledge import entries
from kefu.shops import clear_cache as clear_shops

from infra.local.demo_data import publish_knowledge_base
from tests.support.bot import ask, bot_texts, enable_bot, reset_bot_caches
from tests.support.factories import make_shop, make_staff

# Each mall's operator answers the same question differently, so an answer names its mall.
QUESTION = "平台发货时效是多久"
SIMILAR = ["平台多久发货", "发货时效"]
ANSWER = {"mall-m": "M 商城：付款后24小时内发货。", "mall-n": "N 商城：付款后72小时内发货。"}


@pytest.fixture
def malls(kefu_env):
    reset_bot_caches()
    clear_shops()
    for mall in ("mall-m", "mall-n"):
        make_shop(mall, mall_id=mall)
        ops = make_staff(mall, "ops", "platform")
        publish_knowledge_base(ops, [(QUESTION, SIMILAR, ANSWER[mall])], scope="platform")
    sellers = {"in-m": "mall-m", "in-n": "mall-n", "alone": None}
    for shop_id, mall in sellers.items():
        make_shop(shop_id, mall_id=mall)
        sup = make_staff(shop_id, "sup", "supervisor")
        # Something of its own, so that every shop's bot has a published index to search.
        publish_knowledge_base(sup, [("怎么开发票", ["能开发票吗"], "下单时填写抬头即可。")])
        enable_bot(sup)
    yield
    reset_bot_caches()
    clear_shops()


@pytest.mark.parametrize(("shop_id", "mall"), [("in-m", "mall-m"), ("in-n", "mall-n")])
def test_a_shop_in_a_mall_answers_from_its_own_malls_platform_entries(malls, shop_id, mall):
    received, outcome = ask(shop_id, "o1", QUESTION)
    assert outcome["outcome"] == "answer"
    assert bot_texts(shop_id, received.conversation_id) == [ANSWER[mall]]
    other = next(a for m, a in ANSWER.items() if m != mall)
    assert other not in bot_texts(shop_id, received.conversation_id)


def test_a_shop_outside_any_mall_answers_from_no_platform_entries(malls):
    received, outcome = ask("alone", "o1", QUESTION)
    assert outcome["outcome"] != "answer"
    texts = bot_texts("alone", received.conversation_id)
    assert not any(answer in text for answer in ANSWER.values() for text in texts)
    # ...while its own entries still answer.
    received, outcome = ask("alone", "o2", "能开发票吗")
    assert bot_texts("alone", received.conversation_id) == ["下单时填写抬头即可。"]


def test_the_legacy_platform_partition_is_searched_by_nobody(malls):
    # A shop called "platform" (what every bot used to search) is an ordinary shop now.
    make_shop("platform")
    sup = make_staff("platform", "sup", "supervisor")
    publish_knowledge_base(sup, [(QUESTION, SIMILAR, "旧平台答案")])
    for shop_id in ("in-m", "alone"):
        received, _ = ask(shop_id, "o9", QUESTION)
        assert "旧平台答案" not in bot_texts(shop_id, received.conversation_id)


def test_platform_entries_are_written_only_by_that_malls_platform_staff(malls):
    from kefu.auth.staff_tokens import acting_on

    m_ops = make_staff("mall-m", "ops", "platform")
    listed, _ = entries.list_entries(m_ops, "platform")
    assert [e["question"] for e in listed] == [QUESTION]
    assert {e["scope"] for e in listed} == {"platform/mall-m"}
    # Sellers' owners, the operator's supervisor, a "platform" role at a seller: refused.
    refused = [
        make_staff("in-m", "boss", "owner"),
        make_staff("mall-m", "sup", "supervisor"),
        make_staff("in-m", "rogue", "platform"),
    ]
    for actor in refused:
        with pytest.raises(Forbidden):
            entries.list_entries(actor, "platform")
    # Acting on a seller of its mall, M's platform staff still reach M's entries, not N's...
    on_seller = acting_on(m_ops, "in-m")
    assert entries.list_entries(on_seller, "platform")[0][0]["scope"] == "platform/mall-m"
    # ...and cannot act on a shop of another mall or outside any mall at all.
    for shop_id in ("in-n", "alone", "mall-n", "no-such-shop"):
        with pytest.raises(Forbidden) as raised:
            acting_on(m_ops, shop_id)
        assert raised.value.code == "shop_not_in_mall"
    # Only platform staff act on another shop.
    with pytest.raises(Forbidden) as raised:
        acting_on(make_staff("in-m", "boss", "owner"), "in-n")
    assert raised.value.code == "not_platform_staff"
