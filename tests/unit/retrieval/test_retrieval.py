"""kefu.retrieval: the knowledge-base index the bot searches, and how its scores become the bot's
outcome. Pure computation: no AWS."""

from __future__ import annotations

import pytest
from kefu.retrieval import (
    Decision,
    Document,
    Hit,
    KnowledgeIndex,
    Thresholds,
    decide,
    merge_hits,
    terms,
)
from kefu.retrieval.text import BIGRAM, CHAR, TRIGRAM, WORD, Segmenter, analyse

SHOP_KB = [
    Document("shipping-time", ("什么时候发货", "下单后多久发货", "几天能发出")),
    Document("invoice", ("可以开发票吗", "怎么开具增值税发票")),
    Document("size", ("尺码怎么选", "我身高170穿什么码")),
    Document("refund", ("退款多久到账", "退款什么时候能到")),
    Document("returns-en", ("How do I return an item?", "Can I send back my order")),
]


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex.build(SHOP_KB)


def test_a_paraphrase_finds_its_entry_through_a_similar_question(index):
    hits = index.search("请问下单以后多久能发货呀")
    assert hits[0].entry_id == "shipping-time"
    assert hits[0].question == "下单后多久发货"


def test_english_questions_match_across_word_forms(index):
    hits = index.search("returning items")
    assert hits[0].entry_id == "returns-en"


def test_scores_are_confidences_between_zero_and_one_best_first(index):
    hits = index.search("发票怎么开", k=5)
    assert hits[0].entry_id == "invoice"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_words_the_knowledge_base_never_saw_lower_the_confidence(index):
    known = index.search("退款多久到账")[0]
    padded = index.search("退款多久到账 蓝牙耳机保修换新电池")[0]
    assert known.entry_id == padded.entry_id == "refund"
    assert padded.score < known.score


def test_nothing_in_common_finds_nothing(index):
    assert index.search("今天天气怎么样") == [] or index.search("今天天气怎么样")[0].score < 0.3
    assert index.search("   ") == []


def test_the_index_survives_bytes_and_searches_the_same(index):
    again = KnowledgeIndex.from_bytes(index.to_bytes())
    assert len(again) == len(index) == 5
    assert again.search("尺码怎么选择") == index.search("尺码怎么选择")


def test_bytes_of_an_unknown_format_are_refused():
    import json
    import zlib

    with pytest.raises(ValueError, match="format"):
        KnowledgeIndex.from_bytes(zlib.compress(json.dumps({"format": 99}).encode()))


def test_a_shop_dictionary_keeps_a_product_name_whole():
    plain, _ = analyse("云朵棉拖鞋怎么洗", Segmenter())
    shop = Segmenter()
    shop.add_words(["云朵棉"])
    with_dictionary, words = analyse("云朵棉拖鞋怎么洗", shop)
    assert WORD + "云朵棉" in with_dictionary and "云朵棉" in words
    assert WORD + "云朵棉" not in plain


def test_a_query_is_segmented_with_the_index_lexicon_including_shop_words():
    index = KnowledgeIndex.build(
        [Document("wash", ("云朵棉怎么洗",)), Document("other", ("棉衣怎么选",))],
        dictionary=["云朵棉"],
    )
    assert index.search("云朵棉可以机洗吗")[0].entry_id == "wash"


def test_terms_mix_words_bigrams_and_characters_and_drop_function_words():
    found = terms("我的快递到哪了")
    assert WORD + "快递" in found
    assert BIGRAM + "快递" in found
    assert CHAR + "递" in found
    assert WORD + "的" not in found
    assert [t for t in terms("Where is MY order?") if t.startswith(WORD)] == [
        WORD + "where",
        WORD + "order",
    ]
    assert TRIGRAM + "<or" in terms("order")


def test_duplicate_and_empty_questions_are_ignored():
    index = KnowledgeIndex.build(
        [Document("a", ("发票", "发票", " ")), Document("empty", ("", "  "))]
    )
    assert len(index) == 1


def test_decide_answers_a_clear_best_entry():
    hits = [Hit("a", 0.9, "q"), Hit("b", 0.4, "q2")]
    assert decide(hits) == Decision("answer", [hits[0]])


def test_decide_suggests_when_unsure_or_when_two_entries_are_neck_and_neck():
    unsure = [Hit("a", 0.40, "q"), Hit("b", 0.35, "q2"), Hit("c", 0.1, "q3")]
    assert decide(unsure) == Decision("suggest", unsure[:2])
    tie = [Hit("a", 0.90, "q"), Hit("b", 0.89, "q2")]
    assert decide(tie).outcome == "suggest"


def test_decide_hands_off_on_low_confidence_or_nothing():
    assert decide([]).outcome == "handoff"
    assert decide([Hit("a", 0.1, "q")]).outcome == "handoff"


def test_a_shop_can_be_stricter():
    hits = [Hit("a", 0.7, "q")]
    assert decide(hits).outcome == "answer"
    assert decide(hits, Thresholds(answer=0.8, suggest=0.5)).outcome == "suggest"


def test_shop_and_platform_results_merge_into_one_ranking():
    shop = [Hit("s1", 0.5, "q"), Hit("s2", 0.2, "q")]
    platform = [Hit("p1", 0.7, "q")]
    assert [h.entry_id for h in merge_hits(shop, platform, k=2)] == ["p1", "s1"]


INTENTS = [
    Document(
        "cancel",
        (
            "I want to cancel my order",
            "cancel the order please",
            "how can I cancel",
            "stop my order from shipping",
        ),
    ),
    Document(
        "track",
        (
            "where is my order",
            "track my order",
            "when will my parcel arrive",
            "order status please",
        ),
    ),
    Document("warranty", ("what is the warranty",)),
]


def test_entries_with_several_phrasings_train_an_intent_model_at_publish():
    index = KnowledgeIndex.build(INTENTS)
    assert index._model is not None
    assert index._model["classes"] == [0, 1]  # the one-question entry is left to ranking
    hits = index.search("please cancel it")
    assert hits[0].entry_id == "cancel"


def test_the_intent_model_is_deterministic_and_survives_bytes():
    first = KnowledgeIndex.build(INTENTS).to_bytes()
    assert KnowledgeIndex.build(INTENTS).to_bytes() == first
    again = KnowledgeIndex.from_bytes(first)
    assert again.search("where's my parcel") == KnowledgeIndex.build(INTENTS).search(
        "where's my parcel"
    )


def test_no_intent_model_without_two_entries_of_several_phrasings():
    assert KnowledgeIndex.build(SHOP_KB)._model is None  # one entry has three phrasings
    single = KnowledgeIndex.build([Document("a", ("x1", "x2", "x3")), Document("b", ("y",))])
    assert single._model is None
