"""Text to terms, for Chinese and English questions alike.

A question becomes a bag of weighted terms of three kinds:
- words: jieba's segmentation (with the shop's dictionary) for Chinese, light-stemmed words for
  English and other Latin-script text; numbers kept whole;
- character bigrams of each Chinese run: segmentation is inconsistent across paraphrases
  ("花呗提额" / "提花呗额度"), bigrams still overlap;
- single Chinese characters, weighted low: they rescue one-character words and typos;
- character trigrams of Latin-script words ("<de", "del", …, "ry>"): customers misspell
  ("delivry", "oder") and product names vary; trigrams still overlap.

Segmentation needs only the words the knowledge base contains: a query word the index has never
seen cannot match anything. So the index keeps the lexicon of its own questions (built at
publish with jieba's full dictionary) and a query is segmented with that small lexicon: the bot
never loads jieba's 350,000-word dictionary, only a few thousand words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache

# Chinese runs; Latin letters/digits runs. Everything else separates.
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:['.][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words that carry no meaning of their own in a customer's question. Kept short on
# purpose: IDF already discounts frequent words; these are only the ones that would still add noise
# to the coverage of a short question.
_EN_STOP = _words(
    "a an the is are was were be been being am do does did to of in on at for by with from and or "
    "but if then so as it its this that these those i me my we our you your he she they them "
    "their his her what which who whom can could would should will shall may might must have has "
    "had not no yes please pls plz hi hello hey there here just also any some about into"
)
_ZH_STOP = _words(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 么 着 过 我 你 您 他 她 它 我们 你们 是 在 和 与 及 就 都 也 还 "
    "请问 请 一下 一个 那个 这个 这 那 怎么 如何 什么 为什么 为啥 能 可以 会 要 想 有 没 没有 "
    "不 吧 哈 嗯 呗 啦 喔"
)
_ZH_STOP_CHARS = frozenset("的了吗呢吧啊呀哦嘛么着过我你您他她它是在和与及就都也还请这那")

# Kinds of terms, as prefixes, so one bag holds them all without collisions.
WORD, BIGRAM, CHAR, TRIGRAM = "w:", "b:", "c:", "g:"


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _stem(word: str) -> str:
    # A light suffix stripper: enough for plurals and verb forms of support questions
    # ("orders"/"ordered"/"ordering" -> "order"), without a stemming library in the layer.
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + keep
            break
    return word


class Segmenter:
    """jieba over a lexicon: the full dictionary at publish, the index's own words at query."""

    def __init__(self, lexicon: dict[str, int] | None = None) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._tokenizer = jieba.Tokenizer()
        if lexicon is not None:
            # A prefix dictionary of just these words (jieba's own format: word -> frequency,
            # every prefix present with 0), so no dictionary file is read or cached.
            freq: dict[str, int] = {}
            for word, count in lexicon.items():
                freq[word] = count
                for i in range(1, len(word)):
                    freq.setdefault(word[:i], 0)
            self._tokenizer.FREQ = freq
            self._tokenizer.total = max(1, sum(lexicon.values()))
            self._tokenizer.initialized = True

    def add_words(self, words: Iterable[str]) -> None:
        for word in words:
            word = normalise(word)
            if word:
                self._tokenizer.add_word(word, freq=max(10, self._tokenizer.suggest_freq(word)))

    def words(self, run: str) -> list[str]:
        return self._tokenizer.lcut(run, HMM=False)

    def frequency(self, word: str) -> int:
        return self._tokenizer.FREQ.get(word) or 1


@cache
def full_segmenter() -> Segmenter:
    """jieba's full dictionary (about a second to load): publish time and tools only."""
    return Segmenter()


def analyse(text: str, segmenter: Segmenter) -> tuple[list[str], list[str]]:
    """(terms, words): every term of the text with repeats, and the Chinese words found."""
    out: list[str] = []
    words: list[str] = []
    for run in _RUNS.findall(normalise(text)):
        if _CJK.match(run):
            for word in segmenter.words(run):
                words.append(word)
                if word not in _ZH_STOP:
                    out.append(WORD + word)
            out.extend(BIGRAM + run[i : i + 2] for i in range(len(run) - 1))
            out.extend(CHAR + ch for ch in run if ch not in _ZH_STOP_CHARS)
        elif run not in _EN_STOP:
            word = _stem(run)
            out.append(WORD + word)
            if len(word) >= 3 and not word.isdigit():
                marked = f"<{word}>"
                out.extend(TRIGRAM + marked[i : i + 3] for i in range(len(marked) - 2))
    return out, words


def terms(text: str) -> list[str]:
    """The normalised terms of a text (full dictionary): for grouping similar questions."""
    return analyse(text, full_segmenter())[0]
