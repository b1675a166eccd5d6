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


def _rule_dead_letter_queues() -> set[str]:
    """Queues named by an EventBridge rule target's DeadLetterConfig."""
    return {
        _getatt((target.get("DeadLetterConfig") or {}).get("Arn"), "Arn")
        for rule in _of_type("AWS::Events::Rule").values()
        for target in _props(rule).get("Targets") or []
    } - {None}


def _stream_failure_queues() -> set[str]:
    """Queues named as the on-failure destination of a stream event source."""
    return {
        _getatt(
            ((e.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"), "Arn"
        )
        for f in _of_type(FUNCTION).values()
        for e in _stream_events(f)
    } - {None}


def _dead_letter_queues() -> set[str]:
    redrive_targets = {
        _getatt((_props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn"), "Arn")
        for q in _of_type(QUEUE).values()
    } - {None}
    return redrive_targets | _rule_dead_letter_queues() | _stream_failure_queues()


def _stream_events(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["Properties"]
        for e in (_props(function).get("Events") or {}).values()
        if e["Type"] in ("DynamoDB", "Kinesis")
    ]


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
            # Lambda's advice for SQS sources: 6 x the timeout, so a batch retried by the
            # poller (throttling, a slow instance) is not received twice at once.
            timeout = _props(function)["Timeout"]
            assert visibility >= 6 * timeout, f"{queue} {visibility} s < 6 x {name} {timeout} s"


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
    """Redrive targets, EventBridge target DLQs and stream on-failure destinations alike."""
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


# --------------------------------------------------------------------------------- (j) issue 8:
# alarms that reach a person, events that are never silently dropped


def _statement_allows(statement: dict[str, Any], action: str, principal: str) -> bool:
    return (
        statement.get("Effect") == "Allow"
        and statement.get("Principal") == {"Service": principal}
        and any(fnmatch.fnmatchcase(action, a) for a in _as_list(statement.get("Action")))
    )


def _source_rules(statement: dict[str, Any]) -> set[str]:
    arns = (statement.get("Condition") or {}).get("ArnEquals", {}).get("aws:SourceArn")
    return {_getatt(a, "Arn") for a in _as_list(arns)} - {None}


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    topic = _props(_resources()["AlarmTopic"])
    key_id = _ref(topic.get("KmsMasterKeyId"))
    # alias/aws/sns (or any AWS managed key): CloudWatch cannot publish, every alarm is mute.
    assert key_id in _of_type("AWS::KMS::Key"), "the alarm topic needs a customer-managed key"
    policy = _props(_resources()[key_id])["KeyPolicy"]["Statement"]
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert any(_statement_allows(s, action, "cloudwatch.amazonaws.com") for s in policy), (
            f"the key policy does not let CloudWatch {action}"
        )


def test_the_alarm_topic_has_the_optional_email_subscription():
    parameters = _template()["Parameters"]
    assert parameters["AlarmEmail"].get("Default") == ""
    subscription = _props(_resources()["AlarmTopic"])["Subscription"]
    condition, (entry,), _ = subscription["Fn::If"]
    assert condition == "HasAlarmEmail"
    assert entry == {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


def test_every_alarm_notifies_the_alarm_topic():
    for name, alarm in _of_type("AWS::CloudWatch::Alarm").items():
        actions = [_ref(a) for a in _props(alarm).get("AlarmActions") or []]
        assert "AlarmTopic" in actions, f"{name} notifies nobody"


@pytest.mark.parametrize("rule", sorted(_of_type("AWS::Events::Rule")))
def test_every_rule_target_has_a_dlq_events_may_send_to_and_a_retry_policy(rule):
    targets = _props(_resources()[rule]).get("Targets") or []
    for target in targets:
        retry = target.get("RetryPolicy") or {}
        assert retry.get("MaximumRetryAttempts", 0) >= 1, f"{rule}/{target['Id']}: RetryPolicy"
        assert retry.get("MaximumEventAgeInSeconds", 0) >= 3600, f"{rule}/{target['Id']}"
        dlq = _getatt((target.get("DeadLetterConfig") or {}).get("Arn"), "Arn")
        assert dlq in _of_type(QUEUE), f"{rule}/{target['Id']}: no DeadLetterConfig queue"
        assert dlq != _getatt(target["Arn"], "Arn"), f"{rule}: its DLQ is its own target"
        allowed = [
            statement
            for policy in _of_type("AWS::SQS::QueuePolicy").values()
            if dlq in {_ref(q) for q in _props(policy)["Queues"]}
            for statement in _props(policy)["PolicyDocument"]["Statement"]
            if _statement_allows(statement, "sqs:SendMessage", "events.amazonaws.com")
            and _getatt(statement.get("Resource"), "Arn") == dlq
            and rule in _source_rules(statement)
        ]
        assert allowed, f"no QueuePolicy lets {rule} send its undeliverable events to {dlq}"


@pytest.mark.parametrize("rule", sorted(_of_type("AWS::Events::Rule")))
def test_every_rule_failed_invocations_metric_is_alarmed(rule):
    def names_rule(value: Any) -> bool:
        # {"Fn::Select": [1, {"Fn::Split": ["|", {"Ref": rule}]}]}: "bus|rule" -> "rule"
        select = value.get("Fn::Select") if isinstance(value, dict) else None
        return bool(select) and select[0] == 1 and _ref(select[1]["Fn::Split"][1]) == rule

    alarms = [
        a
        for a in _alarms("AWS/Events", "FailedInvocations")
        if any(d["Name"] == "RuleName" and names_rule(d["Value"]) for d in a["Dimensions"])
    ]
    assert alarms, f"no FailedInvocations alarm on {rule}"
    # A rule on a custom bus reports under EventBusName + RuleName.
    assert all(
        any(d["Name"] == "EventBusName" and _ref(d["Value"]) == "EventBus" for d in a["Dimensions"])
        for a in alarms
    ), rule


def _consumed_queues() -> set[str]:
    return {_getatt(e["Queue"], "Arn") for f in _of_type(FUNCTION).values() for e in _sqs_events(f)}


@pytest.mark.parametrize("queue", sorted(set(_of_type(QUEUE)) - _dead_letter_queues()))
def test_every_queue_age_of_oldest_message_is_alarmed(queue):
    assert _alarm_on(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "QueueName",
        lambda v: _getatt(v, "QueueName") == queue,
    ), f"no alarm on the age of {queue}'s oldest message (a stalled consumer raises no error)"


def test_every_queue_is_encrypted():
    for name, queue in _of_type(QUEUE).items():
        props = _props(queue)
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name


def test_the_rest_api_5xx_and_p99_latency_are_alarmed():
    api_name = _props(_resources()["KefuApi"])["Name"]

    def on_api(alarm: dict[str, Any]) -> bool:
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
        return dims.get("ApiName") == api_name and _ref(dims.get("Stage")) == "Stage"

    assert any(on_api(a) for a in _alarms("AWS/ApiGateway", "5XXError")), "5XXError"
    assert any(
        on_api(a) and a.get("ExtendedStatistic") == "p99"
        for a in _alarms("AWS/ApiGateway", "Latency")
    ), "Latency p99"


# --------------------------------------------------------------------------------- (k) limits


def _rules_by_name(acl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Name"]: r for r in _props(acl)["Rules"]}


def _search_strings(statement: Any) -> set[str]:
    """Every ByteMatch search string inside a (nested) WAF statement."""
    found: set[str] = set()
    if isinstance(statement, dict):
        match = statement.get("ByteMatchStatement")
        if match:
            found.add(match["SearchString"])
        for value in statement.values():
            found |= _search_strings(value)
    elif isinstance(statement, list):
        for value in statement:
            found |= _search_strings(value)
    return found


def test_a_regional_web_acl_guards_the_rest_api_stage():
    acls = _of_type("AWS::WAFv2::WebACL")
    assert len(acls) == 1
    ((acl_name, acl),) = acls.items()
    assert _props(acl)["Scope"] == "REGIONAL"
    (association,) = _of_type("AWS::WAFv2::WebACLAssociation").values()
    assert _getatt(_props(association)["WebACLArn"], "Arn") == acl_name
    arn = _props(association)["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("/restapis/${KefuApi}/stages/${KefuApi.Stage}"), arn


def test_the_web_acl_rate_limits_sign_ins_and_customer_endpoints_per_ip():
    (acl,) = _of_type("AWS::WAFv2::WebACL").values()
    rated = {
        name: rule["Statement"]["RateBasedStatement"]
        for name, rule in _rules_by_name(acl).items()
        if "RateBasedStatement" in rule["Statement"]
    }
    scopes = {name: _search_strings(r.get("ScopeDownStatement")) for name, r in rated.items()}
    assert all(r["AggregateKeyType"] == "IP" for r in rated.values())
    login = [n for n, s in scopes.items() if {"/v1/staff/login", "/v1/auth/"} <= s]
    customer = [n for n, s in scopes.items() if {"/v1/messages", "/v1/media/uploads"} <= s]
    assert login and customer, scopes
    for name in login + customer:
        assert rated[name]["Limit"].get("Ref") in _template()["Parameters"], name
        assert _rules_by_name(acl)[name]["Action"] == {"Block": {}}
    # WeChat's few server IPs carry every shop's pushes: never in a per-IP rate rule.
    assert not any("/v1/wechat/" in s for s in scopes.values())


def test_the_web_acl_uses_the_aws_managed_groups_but_not_on_wechat_xml_pushes():
    (acl,) = _of_type("AWS::WAFv2::WebACL").values()
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule["Statement"][
            "ManagedRuleGroupStatement"
        ]
        for rule in _props(acl)["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(managed)
    common = managed["AWSManagedRulesCommonRuleSet"]
    excluded = common["ScopeDownStatement"]["NotStatement"]["Statement"]
    assert {"/v1/wechat/", "/push"} <= _search_strings(excluded)


def test_wechat_pushes_have_their_own_higher_stage_throttle():
    settings = _props(_resources()["KefuApi"])["MethodSettings"]
    default = next(s for s in settings if s["ResourcePath"] == "/*")
    push = next(s for s in settings if s["ResourcePath"] == "/~1v1~1wechat~1{shop_id}~1push")
    assert push["HttpMethod"] == "POST"
    parameters = _template()["Parameters"]
    rate = parameters[push["ThrottlingRateLimit"]["Ref"]]["Default"]
    burst = parameters[push["ThrottlingBurstLimit"]["Ref"]]["Default"]
    assert rate > default["ThrottlingRateLimit"] and burst > default["ThrottlingBurstLimit"]


@pytest.mark.parametrize("name", ["IntakeFunction", "AuthFunction"])
def test_intake_and_sign_in_have_reserved_concurrency_from_a_parameter(name):
    value = _props(_resources()[name])["ReservedConcurrentExecutions"]
    condition, reserved, otherwise = value["Fn::If"]
    parameter = _template()["Parameters"][reserved["Ref"]]
    assert parameter["Default"] > 0 and _ref(otherwise) == "AWS::NoValue"
    assert _template()["Conditions"][condition]  # 0 = no reservation (low-quota accounts)


# --------------------------------------------------------------------------------- (l) outbound


# One reply's WeChat calls in the worst case (kefu.outbound._send_wechat): access token, media
# upload, send; the send rejects the token -> refresh, upload again, send again.
WECHAT_CALLS_PER_REPLY = 6
OTHER_WORK_PER_REPLY_S = 3  # DynamoDB claim/mark, S3 media read, EventBridge announce


def test_a_full_outbound_batch_finishes_within_the_function_timeout():
    from kefu.channels.wechat.api import DEFAULT_TIMEOUT

    per_call = DEFAULT_TIMEOUT.connect_timeout + DEFAULT_TIMEOUT.read_timeout
    per_reply = WECHAT_CALLS_PER_REPLY * per_call + OTHER_WORK_PER_REPLY_S
    function = _props(_resources()["OutboundFunction"])
    (event,) = _sqs_events(_resources()["OutboundFunction"])
    assert event["BatchSize"] * per_reply <= function["Timeout"], (
        f"{event['BatchSize']} replies x {per_reply} s > Timeout {function['Timeout']} s"
    )


# --------------------------------------------------------------------------------- (m) audit

AUDIT_READ_ACTIONS = {
    "dynamodb:putitem",  # append (with attribute_not_exists)
    "dynamodb:getitem",
    "dynamodb:batchgetitem",
    "dynamodb:query",
    "dynamodb:conditioncheckitem",
    "dynamodb:describestream",
    "dynamodb:getrecords",
    "dynamodb:getsharditerator",
    "dynamodb:liststreams",
}
# SAM policy templates that would grant writes beyond PutItem.
WRITING_POLICY_TEMPLATES = {"DynamoDBCrudPolicy", "DynamoDBWritePolicy", "AmazonDynamoDBFullAccess"}


def _mentions(value: Any, logical_id: str) -> bool:
    if isinstance(value, dict):
        if _ref(value) == logical_id or _getatt_id(value) == logical_id:
            return True
        sub = value.get("Fn::Sub")
        if isinstance(sub, str) and f"${{{logical_id}" in sub:
            return True
        return any(_mentions(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, logical_id) for v in value)
    return False


def _getatt_id(value: dict[str, Any]) -> str | None:
    target = value.get("Fn::GetAtt")
    if isinstance(target, str):
        return target.split(".", 1)[0]
    return target[0] if isinstance(target, list) else None


def _all_iam_statements() -> list[tuple[str, dict[str, Any]]]:
    found = [(name, s) for name, f in _of_type(FUNCTION).items() for s in _statements(f)]
    for name, resource in _resources().items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(name, s) for s in _as_list(_props(resource)["PolicyDocument"]["Statement"])]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in _props(resource).get("Policies") or []:
                found += [(name, s) for s in _as_list(policy["PolicyDocument"]["Statement"])]
    return found


def test_no_policy_may_update_or_delete_an_audit_record():
    for name, statement in _all_iam_statements():
        if statement.get("Effect") != "Allow":
            continue
        resources = _as_list(statement.get("Resource"))
        if not (_mentions(resources, "AuditTable") or "*" in resources):
            continue
        for action in _as_list(statement.get("Action")):
            action_l = str(action).lower()
            if not action_l.startswith("dynamodb:"):
                continue
            if "*" in resources and not _mentions(resources, "AuditTable"):
                # A wildcard resource: no writing action at all.
                assert action_l in AUDIT_READ_ACTIONS - {"dynamodb:putitem"}, (name, action)
                continue
            assert action_l in AUDIT_READ_ACTIONS, (
                f"{name} may {action} on the audit table (append-only: PutItem and reads)"
            )
    for name, function in _of_type(FUNCTION).items():
        for policy in _as_list(_props(function).get("Policies") or []):
            if isinstance(policy, dict):
                for template_name, args in policy.items():
                    assert not (
                        template_name in WRITING_POLICY_TEMPLATES and _mentions(args, "AuditTable")
                    ), f"{name}: {template_name} on the audit table grants updates"


def test_the_audit_table_is_archived_to_a_locked_bucket_by_its_stream():
    table = _props(_resources()["AuditTable"])
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    consumers = [
        (name, event)
        for name, f in _of_type(FUNCTION).items()
        for event in _stream_events(f)
        if _getatt(event["Stream"], "StreamArn") == "AuditTable"
    ]
    assert len(consumers) == 1
    name, event = consumers[0]
    assert event["BisectBatchOnFunctionError"] is True
    assert event["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    bucket_ref = _props(_resources()[name])["Environment"]["Variables"]["AUDIT_ARCHIVE_BUCKET"]
    bucket = _props(_resources()[_ref(bucket_ref)])
    assert bucket["ObjectLockEnabled"] is True
    retention = bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "GOVERNANCE"
    assert _ref(retention["Days"]) in _template()["Parameters"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}


# --------------------------------------------------------------------------------- (n) retention

FORBIDDEN_LOG_FIELDS = re.compile(
    r"\$context\.authorizer|\$input|\$request|\.body|querystring|header|token", re.IGNORECASE
)


def _retention_is_the_parameter(log_group: str) -> None:
    props = _props(_resources()[log_group])
    assert _ref(props.get("RetentionInDays")) == "LogRetentionDays", log_group


def test_log_retention_is_a_parameter_defaulting_to_30_days():
    assert _template()["Parameters"]["LogRetentionDays"]["Default"] == 30


@pytest.mark.parametrize("name", sorted(_of_type(FUNCTION)))
def test_every_function_logs_to_its_own_log_group_with_retention(name):
    group = _ref((_props(_resources()[name]).get("LoggingConfig") or {}).get("LogGroup"))
    assert group in _of_type("AWS::Logs::LogGroup"), f"{name}: no LoggingConfig.LogGroup"
    _retention_is_the_parameter(group)


def test_api_and_websocket_access_logs_have_retention_and_no_bodies_or_tokens():
    rest = _props(_resources()["KefuApi"])["AccessLogSetting"]
    (stage,) = _of_type("AWS::ApiGatewayV2::Stage").values()
    websocket = _props(stage)["AccessLogSettings"]
    for setting in (rest, websocket):
        _retention_is_the_parameter(_getatt(setting["DestinationArn"], "Arn"))
        fields = re.findall(r"\$context\.[\w.]+", setting["Format"])
        assert fields, setting["Format"]
        assert not FORBIDDEN_LOG_FIELDS.search(setting["Format"]), setting["Format"]


def test_every_bucket_refuses_plain_http():
    buckets = _of_type("AWS::S3::Bucket")
    for name in buckets:
        denies = [
            s
            for p in _of_type("AWS::S3::BucketPolicy").values()
            if _ref(_props(p)["Bucket"]) == name
            for s in _props(p)["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Principal") == "*"
            and s["Action"] == "s3:*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies, f"{name} has no TLS-only bucket policy"
        covered = {_getatt(r, "Arn") or _mentions(r, name) for r in _as_list(denies[0]["Resource"])}
        assert name in covered and True in covered, f"{name}: the bucket and its objects"


@pytest.mark.parametrize("name", ["MediaBucket", "KnowledgeBucket"])
def test_media_and_knowledge_buckets_expire_old_versions_and_abandoned_uploads(name):
    rules = _props(_resources()[name])["LifecycleConfiguration"]["Rules"]
    enabled = [r for r in rules if r["Status"] == "Enabled"]
    assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") for r in enabled)
    assert any(
        r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") for r in enabled
    )


def test_bucket_cors_allows_only_the_configured_origins():
    for name, bucket in _of_type("AWS::S3::Bucket").items():
        for rule in (_props(bucket).get("CorsConfiguration") or {}).get("CorsRules") or []:
            origins = rule["AllowedOrigins"]
            assert _ref(origins) == "AllowedOrigins", f"{name}: CORS origins {origins}"
    default = _template()["Parameters"]["AllowedOrigins"]["Default"]
    assert "*" not in default


def test_the_event_archive_retention_is_a_parameter_defaulting_to_30_days():
    (archive,) = _of_type("AWS::Events::Archive").values()
    parameter = _ref(_props(archive)["RetentionDays"])
    assert _template()["Parameters"][parameter]["Default"] == 30


# --------------------------------------------------------------------------------- (o) checkov


def test_every_checkov_skip_says_why():
    lines = (ROOT / ".checkov.yaml").read_text(encoding="utf-8").splitlines()
    skips = [line for line in lines if re.match(r"\s*-\s*CKV2?_", line)]
    assert skips, ".checkov.yaml skips nothing: drop the file's skip-check list instead"
    for line in skips:
        check, _, reason = line.partition("#")
        assert len(reason.strip()) >= 20, f"{check.strip()}: give the reason after a #"
