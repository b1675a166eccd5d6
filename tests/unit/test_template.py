"""Specification: template.yaml wires exactly the code that exists, and every queue, table, rule,
policy and alarm follows the project's rules. Reads the template only; no AWS needed."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infra.local.template import apply_globals, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTION = "AWS::Serverless::Function"
QUEUE = "AWS::SQS::Queue"


@cache
def _template() -> dict[str, Any]:
    return load_yaml(TEMPLATE)


@cache
def _resources() -> dict[str, Any]:
    """Resources with SAM Globals merged in (Timeout, Environment, ...)."""
    return apply_globals(_template())


def _of_type(rtype: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in _resources().items() if r["Type"] == rtype}


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _getatt(value: Any, attribute: str) -> str | None:
    """The logical id in {"Fn::GetAtt": [id, attribute]}, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            target = target.split(".", 1)
        if target[1] == attribute:
            return target[0]
    return None


def _ref(value: Any) -> str | None:
    return value["Ref"] if isinstance(value, dict) and set(value) == {"Ref"} else None


@cache
def _load_module(code_uri: str, module: str) -> ModuleType:
    """Import functions/<name>/<module>.py under a unique name (every function has an app.py)."""
    path = ROOT / code_uri / f"{module}.py"
    name = "kefu_template_test_" + re.sub(r"\W", "_", f"{code_uri}{module}")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot import {path}"
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _handler(function: dict[str, Any]) -> Any:
    props = _props(function)
    module, _, attribute = props["Handler"].rpartition(".")
    mod = _load_module(props["CodeUri"], module)
    return getattr(mod, attribute)


# --------------------------------------------------------------------------------- (a) wiring


@pytest.mark.parametrize("name", sorted(_of_type(FUNCTION)))
def test_function_code_uri_and_handler_resolve_to_a_callable(name):
    props = _props(_resources()[name])
    code_dir = ROOT / props["CodeUri"]
    module = props["Handler"].rpartition(".")[0]
    assert code_dir.is_dir(), f"{name}: CodeUri {props['CodeUri']} is not a directory"
    assert (code_dir / f"{module}.py").is_file(), f"{name}: no {module}.py in {props['CodeUri']}"
    assert callable(_handler(_resources()[name])), f"{name}: {props['Handler']} is not callable"


def _api_events(function: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in (_props(function).get("Events") or {}).values()
        if e["Type"] == "Api"
    }


def _chalice_routes(app: Any) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, entries in app.routes.items() for method in entries}


@pytest.mark.parametrize("name", sorted(_of_type(FUNCTION)))
def test_api_events_are_exactly_the_routes_of_the_function_app(name):
    from chalice import Chalice

    function = _resources()[name]
    handler = _handler(function)
    events = _api_events(function)
    if not isinstance(handler, Chalice):
        assert not events, f"{name} has Api events but its handler is not a Chalice app"
        return
    routes = _chalice_routes(handler)
    assert events == routes, (
        f"{name}: in template only {sorted(events - routes)}; in app only {sorted(routes - events)}"
    )


def test_every_api_event_belongs_to_the_one_rest_api_and_no_route_is_served_twice():
    seen: dict[tuple[str, str], str] = {}
    for name, function in _of_type(FUNCTION).items():
        for event in (_props(function).get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            assert _ref(event["Properties"].get("RestApiId")) == "KefuApi", name
        for route in _api_events(function):
            assert route not in seen, f"{route} is served by {seen[route]} and {name}"
            seen[route] = name
    assert seen, "the template declares no Api events"


# --------------------------------------------------------------------------------- (b, c) queues


def _dead_letter_queues() -> set[str]:
    return {
        _getatt((_props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn"), "Arn")
        for q in _of_type(QUEUE).values()
    } - {None}


def test_every_queue_that_is_not_a_dlq_redrives_to_a_dlq_in_this_template():
    queues = _of_type(QUEUE)
    dlqs = _dead_letter_queues()
    assert dlqs, "no queue has a dead-letter queue"
    for name, queue in queues.items():
        if name in dlqs:
            assert "RedrivePolicy" not in _props(queue), f"DLQ {name} should not redrive further"
            continue
        redrive = _props(queue).get("RedrivePolicy")
        assert redrive, f"{name} has no RedrivePolicy"
        target = _getatt(redrive.get("deadLetterTargetArn"), "Arn")
        assert target in queues, f"{name}: deadLetterTargetArn is not a queue of this template"
        count = redrive.get("maxReceiveCount")
        assert isinstance(count, int) and count >= 1, f"{name}: maxReceiveCount {count!r}"
        # A message's age counts from its first enqueue: a shorter-lived DLQ would drop it.
        retention = _props(queue).get("MessageRetentionPeriod", 345600)
        assert _props(queues[target]).get("MessageRetentionPeriod", 345600) > retention, (
            f"DLQ {target} must keep messages longer than {name}"
        )


def _sqs_events(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["Properties"]
        for e in (_props(function).get("Events") or {}).values()
        if e["Type"] == "SQS"
    ]


def test_every_sqs_consumer_reports_batch_item_failures_and_fits_the_visibility_timeout():
    consumers = {n: f for n, f in _of_type(FUNCTION).items() if _sqs_events(f)}
    assert consumers, "no function consumes a queue"
    for name, function in consumers.items():
        for event in _sqs_events(function):
            assert event.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], name
            queue = _getatt(event["Queue"], "Arn")
            assert queue in _of_type(QUEUE), f"{name}: event queue is not a queue of this template"
            assert queue not in _dead_letter_queues(), f"{name} consumes the DLQ {queue}"
            visibility = _props(_resources()[queue]).get("VisibilityTimeout", 30)
            # Lambda refuses a mapping whose queue hides messages for less than the timeout.
            assert visibility >= _props(function)["Timeout"], f"{queue} vs {name} timeout"


# --------------------------------------------------------------------------------- (d) events


def test_every_eventbridge_rule_targets_a_queue_that_allows_exactly_that_rule():
    rules = _of_type("AWS::Events::Rule")
    policies = _of_type("AWS::SQS::QueuePolicy")
    assert rules, "no EventBridge rules"
    for rule_name, rule in rules.items():
        assert _ref(_props(rule).get("EventBusName")) == "EventBus", rule_name
        targets = _props(rule).get("Targets") or []
        assert targets, f"{rule_name} has no targets"
        for target in targets:
            queue = _getatt(target["Arn"], "Arn")
            assert queue in _of_type(QUEUE), f"{rule_name} targets {target['Arn']}, not a queue"
            allowed = [
                statement
                for policy in policies.values()
                if queue in {_ref(q) for q in _props(policy)["Queues"]}
                for statement in _props(policy)["PolicyDocument"]["Statement"]
                if statement["Effect"] == "Allow"
                and "sqs:SendMessage" in _as_list(statement["Action"])
                and statement.get("Principal") == {"Service": "events.amazonaws.com"}
                and _getatt(statement.get("Resource"), "Arn") == queue
                and _getatt(
                    (statement.get("Condition") or {}).get("ArnEquals", {}).get("aws:SourceArn"),
                    "Arn",
                )
                == rule_name
            ]
            assert allowed, f"no QueuePolicy lets {rule_name} send to {queue}"


def test_no_function_is_invoked_straight_from_the_event_bus():
    # Domain events reach functions through a queue (retries, DLQ, alarm). Only SAM Schedule
    # events (idempotent housekeeping, alarmed on Errors) invoke a function directly.
    for name, function in _of_type(FUNCTION).items():
        for event_name, event in (_props(function).get("Events") or {}).items():
            assert event["Type"] not in ("EventBridgeRule", "CloudWatchEvent"), (
                f"{name}.{event_name}: route the bus through an SQS queue instead"
            )


# --------------------------------------------------------------------------------- (e) tables


def test_every_table_is_on_demand_recoverable_encrypted_and_protected():
    tables = _of_type("AWS::DynamoDB::Table")
    assert len(tables) >= 6
    for name, table in tables.items():
        props = _props(table)
        assert props.get("BillingMode") == "PAY_PER_REQUEST", name
        assert props.get("PointInTimeRecoverySpecification") == {
            "PointInTimeRecoveryEnabled": True
        }, name
        assert (props.get("SSESpecification") or {}).get("SSEEnabled") is True, name
        assert props.get("DeletionProtectionEnabled") is True, name
        assert table.get("DeletionPolicy") == "Retain", name


def test_the_runtime_table_expires_items_by_the_attribute_the_models_write():
    from kefu.storage.runtime import InboundDedupe

    ttl = _props(_resources()["RuntimeTable"]).get("TimeToLiveSpecification")
    assert ttl == {"AttributeName": InboundDedupe.expires_at.attr_name, "Enabled": True}


# --------------------------------------------------------------------------------- (f) IAM

# SAM policy templates and AWS managed policies that include dynamodb:Scan.
SCANNING_POLICIES = {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "AmazonDynamoDBFullAccess"}


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in _as_list(_props(function).get("Policies") or []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(_as_list(policy["Statement"]))
    return found


@pytest.mark.parametrize("name", sorted(_of_type(FUNCTION)))
def test_no_function_may_scan_or_use_dynamodb_wildcards(name):
    function = _resources()[name]
    for policy in _as_list(_props(function).get("Policies") or []):
        names = (
            {policy} if isinstance(policy, str) else set(policy if isinstance(policy, dict) else ())
        )
        assert not names & SCANNING_POLICIES, f"{name}: {names & SCANNING_POLICIES} allows Scan"
    for statement in _statements(function):
        for action in _as_list(statement.get("Action", [])):
            action_l = str(action).lower()
            assert not fnmatch.fnmatchcase("dynamodb:scan", action_l), f"{name}: {action}"
            assert not (action_l.startswith("dynamodb:") and "*" in action_l), f"{name}: {action}"
        assert "NotAction" not in statement, f"{name}: NotAction grants too much"


# --------------------------------------------------------------------------------- (g) alarms


def _alarms(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        _props(a)
        for a in _of_type("AWS::CloudWatch::Alarm").values()
        if _props(a).get("Namespace") == namespace and _props(a).get("MetricName") == metric
    ]


def _alarm_on(namespace: str, metric: str, dimension: str, match: Any) -> bool:
    for alarm in _alarms(namespace, metric):
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
        if dimension in dims and match(dims[dimension]) and alarm.get("AlarmActions"):
            return True
    return False


@pytest.mark.parametrize("dlq", sorted(_dead_letter_queues()))
def test_every_dlq_is_alarmed(dlq):
    assert _alarm_on(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        lambda v: _getatt(v, "QueueName") == dlq,
    ), f"no alarm (with an action) on messages in {dlq}"


@pytest.mark.parametrize("name", sorted(_of_type(FUNCTION)))
def test_every_function_errors_metric_is_alarmed(name):
    assert _alarm_on("AWS/Lambda", "Errors", "FunctionName", lambda v: _ref(v) == name), (
        f"no alarm (with an action) on {name} Errors"
    )


# --------------------------------------------------------------------------------- (h) secrets

SECRET_NAME = re.compile(r"secret|aes_?key|password|passwd", re.IGNORECASE)


def test_no_parameter_carries_a_secret():
    for name in _template().get("Parameters") or {}:
        assert not SECRET_NAME.search(name), f"parameter {name} looks like a secret"


def test_secrets_come_from_secrets_manager_and_are_generated_not_written_down():
    secrets = _of_type("AWS::SecretsManager::Secret")
    assert secrets
    for name, secret in secrets.items():
        assert "SecretString" not in _props(secret), f"{name} has its value in the template"
        assert "GenerateSecretString" in _props(secret), name
    for name, function in _of_type(FUNCTION).items():
        variables = (_props(function).get("Environment") or {}).get("Variables") or {}
        for var, value in variables.items():
            if "SECRET" in var:
                assert _ref(value) in secrets, f"{name}: {var} is not a Secrets Manager secret"
            assert not (isinstance(value, str) and SECRET_NAME.search(var)), f"{name}: {var}"


# --------------------------------------------------------------------------------- (i) cfn-lint


def test_cfn_lint_passes():
    exe = Path(sys.executable).with_name("cfn-lint")
    cfn_lint = str(exe) if exe.exists() else shutil.which("cfn-lint")
    if not cfn_lint:
        pytest.skip("cfn-lint is not installed in this environment (pip install cfn-lint)")
    result = subprocess.run(
        [cfn_lint, str(TEMPLATE)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_outbound_marks_a_reply_failed_on_the_attempt_that_sends_it_to_the_dlq():
    """OUTBOUND_MAX_ATTEMPTS must equal the queue's maxReceiveCount, or a dead-lettered reply
    would stay 'retrying' for the agent instead of showing 'failed'."""
    resources = _resources()
    outbound = _props(resources["OutboundFunction"])
    max_attempts = int(outbound["Environment"]["Variables"]["OUTBOUND_MAX_ATTEMPTS"])
    redrive = _props(resources["OutboundQueue"])["RedrivePolicy"]
    assert max_attempts == int(redrive["maxReceiveCount"])


def test_the_knowledge_publisher_records_a_failure_on_the_attempt_that_sends_it_to_the_dlq():
    """KNOWLEDGE_PUBLISH_MAX_ATTEMPTS must equal the queue's maxReceiveCount, or a dead-lettered
    publish would show 'publishing' for ever instead of its error."""
    resources = _resources()
    publisher = _props(resources["KnowledgePublisherFunction"])
    max_attempts = int(publisher["Environment"]["Variables"]["KNOWLEDGE_PUBLISH_MAX_ATTEMPTS"])
    redrive = _props(resources["KnowledgePublishQueue"])["RedrivePolicy"]
    assert max_attempts == int(redrive["maxReceiveCount"])
    queue = _props(resources["KnowledgePublishQueue"])
    assert queue["VisibilityTimeout"] >= 6 * publisher["Timeout"]
