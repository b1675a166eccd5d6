"""A shop with knowledge-base staff (agent, supervisor, owner), another shop, and the platform
shop's staff; helpers to write entries."""

import msgspec
import pytest

from tests.support.factories import make_shop, make_staff


@pytest.fixture
def staff(kefu_env):
    from kefu.knowledge import published

    make_shop("shop-a")
    make_shop("shop-b")
    published.clear_cache()
    yield {
        "agent": make_staff("shop-a", "agent1", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
        "owner": make_staff("shop-a", "owner", "owner"),
        "other": make_staff("shop-b", "sup", "supervisor"),
        "platform": make_staff("platform", "ops", "supervisor"),
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
