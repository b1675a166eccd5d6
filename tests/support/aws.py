"""An in-process fake AWS (moto) holding kefu's tables as template.yaml declares them, plus a
shop to work in. Tests use the `kefu_env` fixture and read the events kefu published."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.tables import create_tables_from_template

TEST_PASSWORD = "Kefu-Test-123!"


# kefu's boto3 clients (kefu.aws.client) hold no data, only a configuration read from the
# environment when they were made; making one costs a few milliseconds (a botocore session, its
# handlers, endpoint rules). Unit tests all run in one environment and one in-process moto, so
# `kefu_env` keeps them from test to test, as it keeps pynamodb's connections.
CLIENTS = "kefu.aws.client"


def reset_kefu_caches(*, keep_clients: bool = False) -> None:
    """Forget every per-instance cache kefu keeps (kefu.caches), as a cold Lambda would (with
    `keep_clients`, all but its boto3 clients). The modules are imported first, so that a cache
    is registered before a test could fill it."""
    import kefu.auth.staff_tokens
    import kefu.bot.keyword_rules_matcher
    import kefu.bot.settings
    import kefu.bot.snapshot
    import kefu.channels.wechat.tokens
    import kefu.customers.crypto
    import kefu.knowledge.published
    import kefu.limits
    import kefu.outbound
    import kefu.realtime.push
    import kefu.routing.rules
    import kefu.secrets
    import kefu.shops  # noqa: F401 - each registers its caches on import
    from kefu import caches

    caches.clear_all(keep={CLIENTS} if keep_clients else set())


def aws_client(service: str) -> Any:
    """A boto3 client for the tests' own calls, made once per service and endpoint (unit tests
    reach the in-process moto whichever client they use; the endpoint is the local stack's)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ["AWS_REGION"])


@cache
def _client(service: str, endpoint_url: str | None, region: str) -> Any:
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url)


def drop_model_connections() -> None:
    """pynamodb keeps each model's connection (a botocore client bound to the endpoint of the
    moment) until its table name changes; two local stacks in one session (tests/contract,
    then tests/integration) have the same table names on different moto ports. (Not part of
    reset_kefu_caches: unit tests share one in-process moto, and a new connection costs CPU.)"""
    from kefu.storage.base import KefuModel

    pending = [KefuModel]
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


@dataclass
class KefuEnv:
    """Handles on the fake AWS for one test."""

    capture_queue_url: str
    user_pool_id: str
    client_id: str
    seen: list = field(default_factory=list)

    def events(self, type_: str | None = None) -> list[dict]:
        """Domain events published so far (drained from a queue subscribed to the whole bus)."""
        sqs = aws_client("sqs")
        while True:
            resp = sqs.receive_message(
                QueueUrl=self.capture_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            msgs = resp.get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                self.seen.append(json.loads(m["Body"])["detail"])
                sqs.delete_message(
                    QueueUrl=self.capture_queue_url, ReceiptHandle=m["ReceiptHandle"]
                )
        return [e for e in self.seen if type_ is None or e["type"] == type_]


@dataclass
class _Baseline:
    """The fake AWS every unit test starts from: built once per session, restored after each
    test. Building it (eleven tables with their indexes, a user pool, the bus, queues, buckets
    and a secret) costs about a second; restoring it costs a few milliseconds."""

    mock: Any
    capture_queue_url: str
    user_pool_id: str
    client_id: str
    secret_arn: str
    data_key_arn: str
    lookup_secret_arn: str
    tables: frozenset[str]
    queues: frozenset[str]
    buckets: frozenset[str]
    secrets: frozenset[str]


_baseline: _Baseline | None = None

# Services whose baseline resources are kept between tests and restored item by item; every
# other moto backend a test touches (KMS, SNS, SSM, API Gateway management…) is reset whole.
_KEPT = {"dynamodb", "cognito-idp", "s3", "sqs", "secretsmanager", "events", "sts", "kms"}


def _build_baseline() -> _Baseline:
    mock = mock_aws()
    mock.start()
    try:
        region = os.environ["AWS_REGION"]
        create_tables_from_template(boto3.client("dynamodb", region_name=region))
        events = boto3.client("events")
        events.create_event_bus(Name=os.environ["EVENT_BUS_NAME"])
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(
            Name="capture-all",
            EventBusName=os.environ["EVENT_BUS_NAME"],
            EventPattern=json.dumps({"source": [{"prefix": "kefu."}]}),
        )
        events.put_targets(
            Rule="capture-all",
            EventBusName=os.environ["EVENT_BUS_NAME"],
            Targets=[{"Id": "capture", "Arn": queue_arn}],
        )
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
        s3.create_bucket(Bucket=os.environ["KNOWLEDGE_BUCKET"])
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="kefu/test/customer-token-key", SecretString="x" * 64
        )["ARN"]
        # The customers' envelope key and keyed-hash secret (kefu.customers.crypto).
        data_key_arn = boto3.client("kms").create_key(Description="customer data")["KeyMetadata"][
            "Arn"
        ]
        lookup_secret_arn = boto3.client("secretsmanager").create_secret(
            Name="kefu/test/customer-lookup-key", SecretString="l" * 64
        )["ARN"]
        idp = boto3.client("cognito-idp")
        pool_id = idp.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        return _Baseline(
            mock=mock,
            capture_queue_url=queue_url,
            user_pool_id=pool_id,
            client_id=client_id,
            secret_arn=secret_arn,
            data_key_arn=data_key_arn,
            lookup_secret_arn=lookup_secret_arn,
            tables=frozenset(_backend("dynamodb").tables),
            queues=frozenset(_backend("sqs").queues),
            buckets=frozenset(_backend("s3", "aws").buckets),
            secrets=frozenset(_backend("secretsmanager").secrets.keys()),
        )
    finally:
        mock.stop(remove_data=False)


def _backend(service: str, region: str | None = None) -> Any:
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    return get_backend(service)[DEFAULT_ACCOUNT_ID][region or os.environ["AWS_REGION"]]


def _intact(base: _Baseline) -> bool:
    """False when something reset moto's backends meanwhile (the local runner's tests run a
    moto server in this process, whose reset clears every backend)."""
    return (
        base.tables <= set(_backend("dynamodb").tables)
        and base.queues <= set(_backend("sqs").queues)
        and base.buckets <= set(_backend("s3", "aws").buckets)
        and base.user_pool_id in _backend("cognito-idp").user_pools
        and base.secrets <= set(_backend("secretsmanager").secrets.keys())
        and base.data_key_arn.rsplit("/", 1)[1] in _backend("kms").keys
    )


def _restore(base: _Baseline) -> None:
    """Put the fake AWS back as the baseline left it: no items, messages, objects, users or
    resources that a test made."""
    from moto.core.base_backend import BackendDict

    for backend_dict in list(BackendDict._instances):
        if backend_dict.service_name not in _KEPT:
            for account_backend in backend_dict.values():
                account_backend.reset()
    ddb = _backend("dynamodb")
    for name in list(ddb.tables):
        if name not in base.tables:
            del ddb.tables[name]
            continue
        table = ddb.tables[name]
        table.items = defaultdict(dict)
        if table.stream_shard is not None:
            table.stream_shard.items = []
    sqs = _backend("sqs")
    for name in list(sqs.queues):
        if name in base.queues:
            sqs.queues[name]._messages.clear()
        else:
            del sqs.queues[name]
    buckets = _backend("s3", "aws").buckets
    for name in list(buckets):
        if name not in base.buckets:
            del buckets[name]
            continue
        # Every version and delete marker, and unfinished uploads (locked objects too).
        buckets[name].keys.clear()
        buckets[name].multiparts.clear()
    secrets = _backend("secretsmanager").secrets
    for name in list(secrets.keys()):
        if name not in base.secrets:
            secrets.pop(name)
    idp = _backend("cognito-idp")
    for pool_id in list(idp.user_pools):
        if pool_id != base.user_pool_id:
            del idp.user_pools[pool_id]
            continue
        pool = idp.user_pools[pool_id]
        pool.users.clear()
        pool.groups.clear()


# The environment kefu's kept clients were made in: another one (the bench's fake AWS, a local
# stack) clears them itself, and kefu_env starts afresh if it finds the environment changed.
_clients_env: dict[str, str] | None = None


def _aws_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


# Turning moto's patching on costs milliseconds (a callback for each AWS URL pattern and HTTP
# method): it stays on from one test using kefu_env to the next, and goes off before any other.
_mock_on = False
_next_uses_env = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    global _next_uses_env
    _next_uses_env = nextitem is not None and "kefu_env" in getattr(nextitem, "fixturenames", ())
    yield


@pytest.fixture
def kefu_env(monkeypatch):
    global _baseline, _clients_env, _mock_on
    if _baseline is None or not _intact(_baseline):
        if _mock_on:
            _baseline.mock.stop(remove_data=False)
            _mock_on = False
        _baseline = _build_baseline()
        _clients_env = None
    base = _baseline
    if not _mock_on:
        base.mock.start(reset=False)
        _mock_on = True
    try:
        # moto signs every pool's tokens with one bundled key: answer the JWKS fetch with it
        # (the integration tests fetch it over HTTP from the moto server instead).
        from tests.support.cognito import serve_moto_jwks

        serve_moto_jwks(monkeypatch)
        region = os.environ["AWS_REGION"]
        monkeypatch.setenv("CUSTOMER_TOKEN_SECRET_ARN", base.secret_arn)
        monkeypatch.setenv("CUSTOMER_DATA_KEY_ID", base.data_key_arn)
        monkeypatch.setenv("CUSTOMER_LOOKUP_SECRET_ARN", base.lookup_secret_arn)
        monkeypatch.setenv("USER_POOL_ID", base.user_pool_id)
        monkeypatch.setenv("USER_POOL_CLIENT_ID", base.client_id)
        monkeypatch.setenv(
            "COGNITO_ISSUER", f"https://cognito-idp.{region}.amazonaws.com/{base.user_pool_id}"
        )
        same_env = _clients_env == _aws_environment()
        reset_kefu_caches(keep_clients=same_env)
        _clients_env = _aws_environment()
        yield KefuEnv(
            capture_queue_url=base.capture_queue_url,
            user_pool_id=base.user_pool_id,
            client_id=base.client_id,
        )
        reset_kefu_caches(keep_clients=_clients_env == _aws_environment())
    finally:
        try:
            _restore(base)
        finally:
            if not _next_uses_env:
                base.mock.stop(remove_data=False)
                _mock_on = False
