"""Specification: how well the learning loop groups what customers asked. A labelled set of
shop questions (written for this test, Chinese and English, each topic asked several ways) is
grouped from misses in shuffled order with uneven counts; counted over pairs of questions, the
groups must be mostly right (precision) and find most paraphrases (recall). Grouping errs on
the side of smaller groups: a wrong member would become a wrong similar question of an entry."""

from __future__ import annotations

import itertools
import random

import pytest
from kefu.bot.learning_grouping import group_questions
from kefu.storage.bot_learning import MissItem

TOPICS = [
    ["怎么开发票", "可以开发票吗", "发票怎么开", "我需要开具增值税发票", "能开个发票吗"]
    + ["发票在哪里申请", "开发票要提供什么信息", "电子发票怎么下载"],
    ["什么时候发货", "多久能发货", "下单后几天发货", "发货要多长时间", "今天下单什么时候能发"],
    ["收货地址写错了怎么改", "怎么修改收货地址", "地址填错了能改吗", "我想改一下收货地址"],
    ["how do I get an invoice", "can you send me an invoice", "I need an invoice for my purchase"],
    ["when will my order ship", "how long until my order ships", "how soon do you ship"],
    ["有优惠券吗", "优惠券怎么领", "优惠券在哪里领取"],
    ["可以退货吗", "能退货吗", "支持七天无理由退货吗"],
    ["怎么退款", "退款多久到账"],
    ["会员积分怎么用", "积分可以抵现吗", "积分怎么兑换"],
    ["支持货到付款吗", "可以货到付款吗"],
    ["这个商品还有货吗", "这款还有库存吗"],
    ["is this product in stock", "when will it be back in stock"],
    ["what is your return policy", "how do I return an item"],
    ["what is the shipping cost", "is shipping free"],
    ["衣服尺码偏大还是偏小", "尺码怎么选"],
    ["快递用的哪家", "发什么快递"],
    ["商品有质量问题怎么办", "收到的东西坏了"],
    ["how do I reset my password", "I forgot my password"],
    ["你们店在哪个城市"],
    ["do you sell gift cards"],
    ["what payment methods do you accept"],
]
TOPIC_OF = {q: i for i, topic in enumerate(TOPICS) for q in topic}


def misses(seed: int) -> list[MissItem]:
    rnd = random.Random(seed)
    out = []
    for question in TOPIC_OF:
        for _ in range(rnd.choice([1, 1, 1, 2, 3, 5])):
            n = len(out)
            out.append(
                MissItem(
                    "shop-a",
                    f"miss#{n:013d}#m{n}",
                    miss_id=f"m{n}",
                    question=question,
                    reason="unanswered",
                    customer_id=f"cu-{n % 17}",
                    at=1_750_000_000_000 + n,
                    expires_at=0,
                )
            )
    rnd.shuffle(out)
    return out


def pairwise(groups) -> tuple[float, float]:
    group_of = {text: n for n, g in enumerate(groups) for text in g.texts()}
    tp = fp = fn = 0
    for a, b in itertools.combinations(TOPIC_OF, 2):
        same, together = TOPIC_OF[a] == TOPIC_OF[b], group_of[a] == group_of[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    return tp / (tp + fp), tp / (tp + fn)


@pytest.mark.parametrize("seed", range(4))
def test_groups_are_mostly_right_and_find_most_paraphrases(seed):
    groups = group_questions(misses(seed))
    assert sorted(t for g in groups for t in g.texts()) == sorted(TOPIC_OF)
    precision, recall = pairwise(groups)
    assert precision >= 0.9, precision
    assert recall >= 0.8, recall


def test_the_same_misses_in_any_order_give_the_same_groups():
    base = misses(7)
    expected = [(g.key, g.representative, g.texts()) for g in group_questions(base)]
    for seed in range(3):
        shuffled = list(base)
        random.Random(seed).shuffle(shuffled)
        assert [(g.key, g.representative, g.texts()) for g in group_questions(shuffled)] == expected
