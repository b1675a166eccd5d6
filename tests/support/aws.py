"""An in-process fake AWS (moto) holding kefu's tables as template.yaml declares them, plus a
shop to work in. Tests use the `kefu_env` fixture and read the events kefu published."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws

from infra.local.tables import create_tables_from_template

TEST_PASSWORD = "Kefu-Test-123!"


def reset_kefu_caches() -> None:
    from kefu import aws, config, secrets, shops
    from kefu.auth import staff_tokens
    from kefu.channels.wechat import tokens

    aws.client.cache_clear()
    config.settings.cache_clear()
    secrets.clear_cache()
    shops.clear_cache()
    tokens.clear_local_cache()
    staff_tokens._jwks_client.cache_clear()
    from kefu import outbound

    outbound.wechat_api.cache_clear()
    from kefu.realtime import push

    push.management_api.cache_clear()
    from kefu.bot import keyword_rules

    keyword_rules.clear_cache()


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
        sqs = boto3.client("sqs")
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


@pytest.fixture
def kefu_env(monkeypatch, tmp_path):
    with mock_aws():
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
        boto3.client("s3").create_bucket(Bucket=os.environ["MEDIA_BUCKET"])
        boto3.client("s3").create_bucket(Bucket=os.environ["KNOWLEDGE_BUCKET"])
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="kefu/test/customer-token-key", SecretString="x" * 64
        )["ARN"]
        idp = boto3.client("cognito-idp")
        pool_id = idp.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        # moto signs every pool's tokens with one bundled key: answer the JWKS fetch with it
        # (the integration tests fetch it over HTTP from the moto server instead).
        from tests.support.cognito import serve_moto_jwks

        serve_moto_jwks(monkeypatch)
        monkeypatch.setenv("CUSTOMER_TOKEN_SECRET_ARN", secret_arn)
        monkeypatch.setenv("USER_POOL_ID", pool_id)
        monkeypatch.setenv("USER_POOL_CLIENT_ID", client_id)
        monkeypatch.setenv(
            "COGNITO_ISSUER", f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        )
        reset_kefu_caches()
        yield KefuEnv(capture_queue_url=queue_url, user_pool_id=pool_id, client_id=client_id)
        reset_kefu_caches()
