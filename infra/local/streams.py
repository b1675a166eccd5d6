"""DynamoDB stream event source mappings: read a table's stream in moto and invoke the function
with batches of stream records, as Lambda's poller does.

Per shard, batches are delivered in order, one at a time. When the function fails, the same
batch is retried (halved first when the mapping has BisectBatchOnFunctionError, down to one
record) until MaximumRetryAttempts; then a description of the failed batch goes to the
mapping's OnFailure SQS destination and the shard moves on, as Lambda does. Records written
before the stack started are read from TRIM_HORIZON, so the demo data reaches the consumers.

Moto's DynamoDB Streams endpoint needs AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled (set for every
client of the stack).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.functions import FunctionError, LocalFunction

log = logging.getLogger(__name__)

# Stream consumers the local stack does not run, and why.
NOT_POLLED = {
    # Its bucket exists, but the archive is of no use locally; its unit tests feed it records.
    "AuditArchiverFunction": "the audit archive is not kept locally",
}


@dataclass
class StreamSource:
    function: LocalFunction
    event_name: str
    stream_arn: str
    batch_size: int = 100
    window_seconds: float = 0
    bisect: bool = False
    max_retries: int = 3
    on_failure_arn: str | None = None
    starting_position: str = "TRIM_HORIZON"
    retry_delay: float = 0.5


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )


@dataclass
class StreamPoller:
    source: StreamSource
    endpoint_url: str
    region: str
    batches: int = 0
    busy: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.streams = _client("dynamodbstreams", self.endpoint_url, self.region)
        self.sqs = _client("sqs", self.endpoint_url, self.region)
        self._iterators: dict[str, str | None] = {}

    def start(self) -> None:
        name = f"stream-{self.source.function.logical_id}-{self.source.event_name}"
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
                if not self.poll_once():
                    self._stop.wait(0.2)
            except (BotoCoreError, ClientError) as exc:
                if self._stop.is_set():
                    return
                log.warning("stream poller %s: %s; retrying", self.source.stream_arn, exc)
                self._stop.wait(1)
            except Exception:  # never let a bug kill the mapping silently
                log.exception("stream poller %s crashed; retrying", self.source.stream_arn)
                self._stop.wait(1)

    def _shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.source.stream_arn)
        for shard in description["StreamDescription"].get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.source.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.source.starting_position,
                )["ShardIterator"]

    def poll_once(self) -> int:
        """Read every shard once and deliver what came; returns the records delivered."""
        self._shards()
        delivered = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self.streams.get_records(
                ShardIterator=iterator, Limit=self.source.batch_size
            )
            records = response.get("Records") or []
            if records and self.source.window_seconds and len(records) < self.source.batch_size:
                self._stop.wait(min(self.source.window_seconds, 1))
            self._iterators[shard_id] = response.get("NextShardIterator")
            if records and not self._stop.is_set():
                self._deliver([self._lambda_record(r) for r in records])
                delivered += len(records)
        return delivered

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(record, default=str))
        out["eventSourceARN"] = self.source.stream_arn
        out["awsRegion"] = self.region
        return out

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke until the batch succeeds, halving it on failure when bisecting."""
        pending = [records]
        while pending and not self._stop.is_set():
            batch = pending.pop(0)
            if self._invoke_with_retries(batch):
                continue
            if self.source.bisect and len(batch) > 1:
                half = len(batch) // 2
                pending[:0] = [batch[:half], batch[half:]]
                continue
            self._send_to_failure_destination(batch)

    def _invoke_with_retries(self, batch: list[dict[str, Any]]) -> bool:
        for attempt in range(self.source.max_retries + 1):
            self.batches += 1
            self.busy = True
            try:
                self.source.function.invoke({"Records": batch})
                return True
            except FunctionError:
                log.warning(
                    "%s failed on %d stream records (attempt %d)",
                    self.source.function.name,
                    len(batch),
                    attempt + 1,
                )
            finally:
                self.busy = False
            if self._stop.wait(self.source.retry_delay):
                return False
        return False

    def _send_to_failure_destination(self, batch: list[dict[str, Any]]) -> None:
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        log.error(
            "%s: %d stream records go to the on-failure destination",
            self.source.function.name,
            len(batch),
        )
        if not self.source.on_failure_arn:
            return
        name = self.source.on_failure_arn.rsplit(":", 1)[1]
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        # What Lambda sends: where the failed records are in the stream, not the records.
        self.sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted"},
                    "DDBStreamBatchInfo": {
                        "streamArn": self.source.stream_arn,
                        "startSequenceNumber": first.get("SequenceNumber"),
                        "endSequenceNumber": last.get("SequenceNumber"),
                        "batchSize": len(batch),
                    },
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            ),
        )


def stream_sources(functions: dict[str, LocalFunction], registry: Any) -> list[StreamSource]:
    """StreamSource per DynamoDB stream event of every function the stack runs locally."""
    sources = []
    for function in functions.values():
        for event_name, event in function.events.items():
            if event.get("Type") != "DynamoDB":
                continue
            if function.logical_id in NOT_POLLED:
                log.info(
                    "%s/%s: not polled locally (%s)",
                    function.name,
                    event_name,
                    NOT_POLLED[function.logical_id],
                )
                continue
            props = event["Properties"]
            stream_arn = str(props.get("Stream") or "")
            if not stream_arn.startswith("arn:"):
                log.warning("%s/%s: stream %r not resolved", function.name, event_name, stream_arn)
                continue
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination"
            )
            sources.append(
                StreamSource(
                    function=function,
                    event_name=event_name,
                    stream_arn=stream_arn,
                    batch_size=min(int(props.get("BatchSize", 100)), 1000),
                    window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    bisect=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
                    max_retries=min(int(props.get("MaximumRetryAttempts", 3)), 3),
                    on_failure_arn=str(destination) if destination else None,
                    starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")),
                )
            )
    return sources
