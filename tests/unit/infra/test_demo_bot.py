"""The demo shop's bot data (infra/local/demo_data.py) loads and answers: the local stack loads
it tolerantly, so a broken seed would only show up as a log line without this test."""

from __future__ import annotations

from infra.local import demo_data
from infra.local.demo_data import DEMO_KB


def test_demo_knowledge_base_is_published_and_answers_its_own_paraphrases(kefu_env):
    from kefu.knowledge import published
    from kefu.retrieval import decide
    from kefu.storage.knowledge import KbHead

    demo_data._bot()
    stored = KbHead.get("demo", "kb")
    assert stored.published_version == 1
    assert stored.entry_count == len(demo_data.DEMO_KB)
    assert list(stored.dictionary) == demo_data.DEMO_DICTIONARY
    index = published.load_index("demo", stored.published_version, stored.index_key)
    decision = decide(index.search("下单几天发货"))
    assert decision.outcome == "answer"
    assert decision.hits[0].question in DEMO_KB[0][1]  # one of "什么时候发货"'s phrasings
    unsure = decide(index.search("优惠券在哪领"))
    assert unsure.outcome == "suggest" and unsure.hits[0].question in DEMO_KB[5][1]
    assert decide(index.search("how can I return something")).outcome == "answer"
    assert decide(index.search("今天天气怎么样")).outcome == "handoff"


def test_demo_keyword_rules_greet_by_name_and_tell_the_hours(kefu_env):
    from kefu.bot.keyword_rules import matcher_for
    from kefu.bot.templates import render_replies
    from kefu.storage.keyword_rules import KeywordRulesHead

    demo_data._bot()
    matcher = matcher_for("demo", KeywordRulesHead.get("demo", "rules").revision)
    greeting = matcher.match("你好", "wechat_miniprogram", 0)
    assert greeting is not None and greeting.name == "问候"
    text = render_replies(greeting.replies, {"customer_name": "小明"})[0]["content"]["text"]
    assert text.startswith("小明好！")
    assert matcher.match("你好，我想问下发货", "wechat_miniprogram", 0) is None  # exact only
    assert matcher.match("客服营业时间是几点", "app", 0).name == "客服时间"


def test_demo_mall_publishes_platform_entries_both_demo_shops_answer_from(kefu_env):
    from kefu.knowledge import published
    from kefu.retrieval import decide
    from kefu.shops import mall_of
    from kefu.storage.knowledge import KbHead, platform_scope

    from tests.support.factories import make_shop

    for shop in demo_data.SHOPS:
        make_shop(shop["shop_id"], mall_id=shop.get("mall_id"))
    demo_data._mall()
    assert {mall_of("demo"), mall_of("demo-2")} == {demo_data.MALL}
    scope = platform_scope(demo_data.MALL)
    stored = KbHead.get(scope, "kb")
    index = published.load_index(scope, stored.published_version, stored.index_key)
    assert decide(index.search("平台客服电话")).outcome == "answer"
