"""SQS event source mappings: long-poll queues in moto and invoke functions with SQS events.

Deletion follows Lambda: after a successful invocation every message is deleted, except those
named in batchItemFailures when the mapping has ReportBatchItemFailures; when the function
fails, nothing is deleted and the messages reappear after the queue's visibility timeout.
Redrive to the DLQ is moto's: ReceiveMessage moves a message whose receive count reached the
RedrivePolicy's maxReceiveCount to the dead-letter queue instead of returning it.

The same loop also stands in for EventBridge's asynchronous Lambda invocation: moto delivers
rule matches to a hidden queue (see resources.Provisioner.rule) and the poller invokes the
function with each EventBridge event, retrying twice like Lambda's async invoke.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.functions import FunctionError, LocalFunction
from infra.local.streams import StreamPoller, StreamSource

log = logging.getLogger(__name__)

ASYNC_ATTEMPTS = 3  # Lambda's async invoke: the first attempt plus two retries


@dataclass
class SqsSource:
    """One SQS event (event source mapping) of one function."""

    function: LocalFunction
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    window_seconds: float = 0
    report_failures: bool = False
    enabled: bool = True
    visibility_timeout: float = 30
    kind: str = "sqs"  # "sqs": SQS batch events; "eventbridge": one EventBridge event per invoke


def sqs_client(endpoint_url: str, region: str) -> Any:
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda passes to an SQS-triggered function."""
    attributes = {
        key: value
        for key, value in (message.get("Attributes") or {}).items()
        if key
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "MessageDeduplicationId",
            "AWSTraceHeader",
            "DeadLetterQueueSourceArn",
        )
    }
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        converted: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues") or []),
            "binaryListValues": [
                base64.b64encode(v).decode() for v in value.get("BinaryListValues") or []
            ],
            "dataType": value.get("DataType"),
        }
        if "StringValue" in value:
            converted["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        message_attributes[name] = converted
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(result: Any, batch_ids: Iterable[str]) -> set[str] | None:
    """Message ids to keep, from a ReportBatchItemFailures response; None = the whole batch.

    Lambda's rules: null, a non-object or an empty list means success; an itemIdentifier that
    is missing, empty or not in the batch makes the whole batch fail.
    """
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    ids = set(batch_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            log.error("invalid batchItemFailures entry %r: the whole batch fails", failure)
            return None
        failed.add(identifier)
    return failed


class SqsPoller:
    """A thread that polls one queue for one function until stopped."""

    def __init__(self, source: SqsSource, endpoint_url: str, region: str) -> None:
        self.source = source
        self.region = region
        self.client = sqs_client(endpoint_url, region)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0  # invocations so far, for tests and the banner
        self.busy = False  # delivering (the function runs): worth waiting for on stop

    def start(self) -> None:
        name = f"sqs-{self.source.function.logical_id}-{self.source.event_name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as exc:
                if self._stop.is_set():
                    return  # moto is shutting down
                log.warning("poller %s: %s; retrying", self.source.queue_url, exc)
                self._stop.wait(1)
            except Exception:  # never let a bug kill the mapping silently
                log.exception("poller %s crashed; retrying", self.source.queue_url)
                self._stop.wait(1)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=max(1, min(count, 10)),
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages") or []

    def poll_once(self, wait: int = 1) -> int:
        """Receive one batch and deliver it; returns the number of messages received."""
        source = self.source
        messages = self._receive(source.batch_size, wait)
        if not messages or self._stop.is_set():
            return 0  # when stopping, undelivered messages simply become visible again
        # Batching window: keep gathering until the batch is full or the window closes, but
        # never so long that the first messages time out and come back while we wait.
        window = min(source.window_seconds, source.visibility_timeout / 2)
        deadline = time.monotonic() + window
        while len(messages) < source.batch_size and time.monotonic() < deadline:
            if self._stop.is_set():
                break
            more = self._receive(source.batch_size - len(messages), 0)
            if more:
                messages.extend(more)
            else:
                self._stop.wait(0.1)
        # A message that did time out is in the batch twice: keep its latest receipt.
        messages = list({m["MessageId"]: m for m in messages}.values())
        self.busy = True
        try:
            if source.kind == "eventbridge":
                self._deliver_eventbridge(messages)
            else:
                self._deliver_batch(messages)
        finally:
            self.busy = False
        return len(messages)

    def _deliver_batch(self, messages: list[dict[str, Any]]) -> None:
        source = self.source
        event = {"Records": [sqs_record(m, source.queue_arn, self.region) for m in messages]}
        self.batches += 1
        try:
            result = source.function.invoke(event)
        except FunctionError:
            log.warning(
                "%s failed on a batch of %d from %s; all stay in the queue",
                source.function.name,
                len(messages),
                source.queue_arn,
            )
            return
        keep: set[str] | None = set()
        if source.report_failures:
            keep = failed_message_ids(result, (m["MessageId"] for m in messages))
        if keep is None:
            return
        if keep:
            log.info("%s: %d of %d messages failed", source.function.name, len(keep), len(messages))
        self._delete([m for m in messages if m["MessageId"] not in keep])

    def _deliver_eventbridge(self, messages: list[dict[str, Any]]) -> None:
        source = self.source
        done = []
        for message in messages:
            self.batches += 1
            try:
                source.function.invoke(json.loads(message["Body"]))
                done.append(message)
            except FunctionError:
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                if attempts >= ASYNC_ATTEMPTS:
                    log.error(
                        "%s: EventBridge event dropped after %d attempts",
                        source.function.name,
                        attempts,
                    )
                    done.append(message)
            except json.JSONDecodeError:
                log.error("%s: EventBridge delivery is not JSON, dropped", source.function.name)
                done.append(message)
        self._delete(done)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            response = self.client.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed") or []:
                log.warning("delete failed on %s: %s", self.source.queue_url, failure)


class PollerGroup:
    """All pollers of the stack; started and stopped together."""

    def __init__(
        self,
        sources: list[SqsSource],
        endpoint_url: str,
        region: str,
        streams: list[StreamSource] | None = None,
    ) -> None:
        self.pollers: list[SqsPoller | StreamPoller] = [
            SqsPoller(s, endpoint_url, region) for s in sources if s.enabled
        ]
        # DynamoDB stream mappings (infra/local/streams.py), started and stopped with the rest.
        self.pollers += [StreamPoller(s, endpoint_url, region) for s in streams or []]
        for source in sources:
            if not source.enabled:
                log.info("%s/%s: SQS event disabled", source.function.name, source.event_name)

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop polling; wait for running invocations, not for idle long polls."""
        for poller in self.pollers:
            poller.stop()
        deadline = time.monotonic() + timeout
        for poller in self.pollers:
            while poller.busy and time.monotonic() < deadline:
                poller.join(0.05)
            poller.join(0.05)


def sqs_sources(functions: dict[str, LocalFunction], registry: Any) -> list[SqsSource]:
    """SqsSource per SQS event of every function (Queue is the queue's ARN, as in SAM)."""
    sources = []
    for function in functions.values():
        for event_name, event in function.events.items():
            if event.get("Type") in ("DynamoDB", "Kinesis"):
                continue  # DynamoDB streams: infra/local/streams.py (Kinesis: none in kefu)
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            queue = registry.queue_by_arn(str(props.get("Queue")))
            if queue is None:
                log.warning(
                    "%s/%s: queue %s is not in the template", function.name, event_name, props
                )
                continue
            enabled = props.get("Enabled", True)
            sources.append(
                SqsSource(
                    function=function,
                    event_name=event_name,
                    queue_url=queue.details["url"],
                    queue_arn=queue.attributes["Arn"],
                    batch_size=int(props.get("BatchSize", 10)),
                    window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    enabled=str(enabled).lower() != "false",
                    visibility_timeout=float(queue.details.get("visibility_timeout", 30)),
                )
            )
    return sources


def eventbridge_sources(
    functions: dict[str, LocalFunction], registry: Any, provisioner: Any
) -> list[SqsSource]:
    """Bridges for EventBridge → Lambda: template rules with function targets, and the
    functions' own EventBridgeRule/CloudWatchEvent events (SAM creates a rule for each)."""
    by_arn = {f.arn: f for f in functions.values()}
    sources = []
    for rule in registry.of_type("AWS::Events::Rule"):
        for target in rule.details.get("lambda_targets") or []:
            function = by_arn.get(target["function_arn"])
            if function is None:
                log.warning("rule %s targets unknown function %s", rule.logical_id, target)
                continue
            sources.append(
                SqsSource(
                    function,
                    rule.logical_id,
                    target["queue_url"],
                    target["queue_arn"],
                    1,
                    kind="eventbridge",
                )
            )
    for function in functions.values():
        for event_name, event in function.events.items():
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            props = dict(event["Properties"])
            rule_name = props.get("RuleName") or f"{function.logical_id}{event_name}"
            target = {"Id": (props.get("Target") or {}).get("Id", "Target"), "Arn": function.arn}
            for key in ("Input", "InputPath", "InputTransformer"):
                if key in props:
                    target[key] = props[key]
            rule_props = {
                "Name": rule_name[:64],
                "EventPattern": props.get("Pattern"),
                "EventBusName": props.get("EventBusName", "default"),
                "State": props.get("State", "ENABLED"),
                "Targets": [target],
            }
            record = provisioner.rule(f"{function.logical_id}{event_name}", rule_props)
            for bridge in record.details["lambda_targets"]:
                sources.append(
                    SqsSource(
                        function,
                        event_name,
                        bridge["queue_url"],
                        bridge["queue_arn"],
                        1,
                        kind="eventbridge",
                    )
                )
    return sources
