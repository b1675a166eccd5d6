"""Specification: a job's chunks never go faster than MAX_CUSTOMERS_PER_SECOND (the shop's
customers share one partition key), and a slow chunk is not slowed further."""

import pytest
from kefu.jobs import worker


@pytest.fixture
def slept(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(worker.time, "sleep", waits.append)
    return waits


def test_a_fast_chunk_waits_out_its_share_of_a_second(slept):
    worker._pace(100, 0.25)
    assert slept == [pytest.approx(100 / worker.MAX_CUSTOMERS_PER_SECOND - 0.25)]


def test_a_slow_chunk_goes_on_at_once(slept):
    worker._pace(100, 2.0)
    worker._pace(3, 0.5)
    assert slept == []


def test_a_kind_may_go_slower_but_never_faster(slept):
    worker._pace(30, 0.0, per_second=30)
    worker._pace(100, 0.0, per_second=1_000)
    assert slept == [pytest.approx(1.0), pytest.approx(100 / worker.MAX_CUSTOMERS_PER_SECOND)]
