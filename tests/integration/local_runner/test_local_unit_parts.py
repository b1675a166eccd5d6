"""Pure parts of the runner: cron translation, batch failure rules, route specificity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.local.functions import LocalFunction
from infra.local.gateway import ApiConfig, Gateway, Route
from infra.local.pollers import failed_message_ids
from infra.local.resources import generate_secret_string
from infra.local.schedules import ScheduleError, aws_cron_to_croniter, next_fire_function


def test_aws_cron_translation():
    assert aws_cron_to_croniter("0 3 * * ? *") == "0 3 * * *"
    assert aws_cron_to_croniter("15 10 ? * 2-6 *") == "15 10 * * 1-5"  # MON-FRI
    assert aws_cron_to_croniter("0 8 ? * MON-FRI *") == "0 8 * * MON-FRI"
    assert aws_cron_to_croniter("0 12 ? * 6#3 *") == "0 12 * * 5#3"  # third Friday
    assert aws_cron_to_croniter("0/5 * * * ? *") == "0/5 * * * *"
    with pytest.raises(ScheduleError):
        aws_cron_to_croniter("0 3 * *")
    with pytest.raises(ScheduleError):
        aws_cron_to_croniter("0 3 15W * ? *")


def test_next_fire_times():
    start = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # a Monday
    assert next_fire_function("cron(0 3 * * ? *)")(start) == datetime(2024, 1, 2, 3, 0, tzinfo=UTC)
    sunday = next_fire_function("cron(0 9 ? * 1 *)")(start)
    assert sunday == datetime(2024, 1, 7, 9, 0, tzinfo=UTC)
    assert next_fire_function("rate(15 minutes)")(start) == datetime(2024, 1, 1, 12, 15, tzinfo=UTC)
    assert next_fire_function("rate(1 day)")(start) == datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    shanghai = next_fire_function("cron(0 9 * * ? *)", "Asia/Shanghai")(start)
    assert shanghai == datetime(2024, 1, 2, 1, 0, tzinfo=UTC)
    once = next_fire_function("at(2024-01-01T13:00:00)")
    assert once(start) == datetime(2024, 1, 1, 13, 0, tzinfo=UTC)
    assert once(datetime(2024, 1, 2, tzinfo=UTC)) is None
    with pytest.raises(ScheduleError):
        next_fire_function("every day")


def test_batch_item_failure_rules():
    ids = ["m1", "m2"]
    assert failed_message_ids(None, ids) == set()
    assert failed_message_ids({"batchItemFailures": []}, ids) == set()
    assert failed_message_ids("ok", ids) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids) == {"m2"}
    # An identifier that is empty or not in the batch fails the whole batch.
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "x"}]}, ids) is None
    assert failed_message_ids({"batchItemFailures": [{"wrong": "m1"}]}, ids) is None


def test_route_specificity():
    fn = LocalFunction(
        logical_id="F",
        name="f",
        arn="arn",
        code_dir=Path("."),
        handler="app.handler",
        runtime="python3.11",
        timeout=3,
        memory_size=128,
        variables={},
        layer_dirs=[],
        events={},
    )
    api = ApiConfig("Api", "abc", "local")
    routes = [
        Route("/{proxy+}", "ANY", fn, api),
        Route("/v1/items/{id}", "GET", fn, api),
        Route("/v1/items/special", "GET", fn, api),
        Route("/v1/items/{id}", "ANY", fn, api),
        Route("/", "GET", fn, api),
    ]
    gateway = Gateway(routes)
    route, params, _ = gateway.find("GET", "/v1/items/special")
    assert route is routes[2] and params == {}
    route, params, _ = gateway.find("GET", "/v1/items/7/")
    assert route is routes[1] and params == {"id": "7"}
    route, _, _ = gateway.find("DELETE", "/v1/items/7")
    assert route is routes[3]
    route, params, _ = gateway.find("POST", "/a/b/c")
    assert route is routes[0] and params == {"proxy": "a/b/c"}
    route, params, _ = gateway.find("GET", "/")
    assert route is routes[4]
    route, _, on_resource = gateway.find("POST", "/v1/items/special")
    assert route is None and on_resource == [routes[2]]


def test_generated_secret_string():
    value = generate_secret_string({"PasswordLength": 20, "ExcludePunctuation": True})
    assert len(value) == 20 and value.isalnum()
    excluded = generate_secret_string({"ExcludeCharacters": "abc", "PasswordLength": 200})
    assert not set("abc") & set(excluded)
