"""Shared set-up for the tickets specifications: a shop with staff, and a controllable clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.factories import make_shop, make_staff

SH = ZoneInfo("Asia/Shanghai")


def sh_ms(y, m, d, hh=0, mm=0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=SH).timestamp() * 1000)


FRIDAY_19 = sh_ms(2024, 11, 22, 19)  # a Friday evening, after hours


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def set(self, now: int) -> None:
        self.now = now


@pytest.fixture
def clock(monkeypatch):
    c = Clock(FRIDAY_19)
    import kefu.tickets.notifier
    import kefu.tickets.service
    import kefu.tickets.settings
    import kefu.tickets.sweep

    for module in (
        kefu.tickets.service,
        kefu.tickets.settings,
        kefu.tickets.sweep,
        kefu.tickets.notifier,
    ):
        monkeypatch.setattr(module, "now_ms", c)
    return c


@pytest.fixture
def shop(kefu_env, clock):
    make_shop("shop-a")
    make_shop("shop-b")
    return {
        "agent1": make_staff("shop-a", "agent1", "agent"),
        "agent2": make_staff("shop-a", "agent2", "agent"),
        "sup": make_staff("shop-a", "sup", "supervisor"),
        "other": make_staff("shop-b", "sup", "supervisor"),
    }
