"""A shop with knowledge-base staff (agent, supervisor, owner) that sells in the mall "mall-hq",
another shop outside it, and the mall operator's platform staff; helpers to write entries."""

import msgspec
import pytest

from tests.support.factories import make_shop, make_staff


@pytest.fixture
def staff(kefu_env):
    from kefu.knowledge import published

    make_shop("mall-hq", mall_id="mall-hq")  # the mall's operator: its id is the mall's
    make_shop("shop-a", mall_id="mall-hq")
    make_shop("shop-b")
    published.clear_cache()
    yield {
        "agent": make_staff("shop-a", "agent1", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
        "owner": make_staff("shop-a", "owner", "owner"),
        "other": make_staff("shop-b", "sup", "supervisor"),
        "platform": make_staff("mall-hq", "ops", "platform"),
        "mall_sup": make_staff("mall-hq", "sup", "supervisor"),
    }
    published.clear_cache()


def text(content: str) -> list[dict]:
    return [{"type": "text", "content": content}]


def new_entry(question: str, *similar: str, answer: str = "答案", **fields):
    from kefu.knowledge.entries import NewKbEntry

    return msgspec.convert(
        {
            "question": question,
            "similar_questions": list(similar),
            "answer": fields.pop("rich", None) or text(answer),
            **fields,
        },
        NewKbEntry,
    )


def change(revision: int, **fields):
    from kefu.knowledge.entries import KbEntryChange

    return msgspec.convert({"revision": revision, **fields}, KbEntryChange)
