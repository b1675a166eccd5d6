"""Provisioned resources, Cognito (auth flow and JWKS), idempotency and the stack lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from infra.local.resources import provision
from infra.local.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_functions_see_resolved_environment(stack):
    env = stack.functions["ApiFunction"].env
    pool = stack.resource("UserPool")
    assert env["ITEMS_TABLE"] == "kefu-local-ItemsTable"
    assert env["BUCKET"] == "kefu-local-mediabucket"
    assert env["WORK_QUEUE_URL"] == f"{stack.moto_url}/123456789012/kefu-local-work"
    assert env["BUS_NAME"] == "kefu-local-bus"
    assert env["USER_POOL_ID"] == pool.physical_id
    assert env["USER_POOL_CLIENT_ID"] == stack.resource("UserPoolClient").physical_id
    assert env["COGNITO_ISSUER"] == f"{stack.moto_url}/{pool.physical_id}"
    assert env["TOKEN_SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:")
    assert env["FLAG_PARAM"] == "/kefu-local/feature-flag"
    assert env["KEY_ARN"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert env["ALARM_TOPIC"] == "arn:aws:sns:us-east-1:123456789012:kefu-local-AlarmTopic"
    assert env["SELF_URL"] == (
        f"https://{stack.resource('FixtureApi').physical_id}.execute-api.us-east-1"
        ".amazonaws.com/local"
    )
    assert env["JOINED"] == "b-dev"
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["AWS_ENDPOINT_URL"] == stack.moto_url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "kefu-local-ApiFunction"
    assert stack.env["ITEMS_TABLE"] == "kefu-local-ItemsTable"
    assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
    assert stack.outputs["TableName"] == "kefu-local-ItemsTable"


def test_resources_exist_in_moto(stack):
    ddb = stack.client("dynamodb")
    table = ddb.describe_table(TableName="kefu-local-ItemsTable")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert stack.resource("ItemsTable").attributes["StreamArn"] == table["LatestStreamArn"]
    ttl = ddb.describe_time_to_live(TableName="kefu-local-ItemsTable")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.resource("WorkQueue").physical_id, AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "2"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.resource("WorkDLQ").attributes["Arn"],
        "maxReceiveCount": 2,
    }
    policy = sqs.get_queue_attributes(
        QueueUrl=stack.resource("EventsQueue").physical_id, AttributeNames=["Policy"]
    )["Attributes"]["Policy"]
    assert json.loads(policy)["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}

    cors = stack.client("s3").get_bucket_cors(Bucket="kefu-local-mediabucket")["CORSRules"]
    assert cors[0]["AllowedMethods"] == ["GET", "PUT"] and cors[0]["MaxAgeSeconds"] == 3000

    targets = stack.client("events").list_targets_by_rule(
        Rule="kefu-local-MessageCreatedRule", EventBusName="kefu-local-bus"
    )["Targets"]
    assert targets[0]["Arn"] == stack.resource("EventsQueue").attributes["Arn"]

    secrets = stack.client("secretsmanager")
    token = json.loads(
        secrets.get_secret_value(SecretId=stack.env["TOKEN_SECRET_ARN"])["SecretString"]
    )
    assert (
        token["kid"] == "k1" and len(token["signing_key"]) == 48 and token["signing_key"].isalnum()
    )
    plain = secrets.get_secret_value(SecretId=stack.resource("PlainSecret").physical_id)
    assert json.loads(plain["SecretString"]) == {"appid": "wx-local"}

    assert (
        stack.client("ssm").get_parameter(Name="/kefu-local/feature-flag")["Parameter"]["Value"]
        == "on"
    )
    key = stack.client("kms").describe_key(KeyId=stack.resource("DataKey").physical_id)
    assert key["KeyMetadata"]["Description"] == "fixture key"
    assert stack.client("sns").get_topic_attributes(TopicArn=stack.env["ALARM_TOPIC"])

    assert stack.resource("ErrorsAlarm").status == "skipped"
    assert stack.resource("WebAcl").status == "skipped"

    s3 = stack.client("s3")
    archive = stack.resource("ArchiveBucket").physical_id
    lock = s3.get_object_lock_configuration(Bucket=archive)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "GOVERNANCE" and retention["Days"] == 7
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=archive)["Rules"]
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    # moto enforces bucket policies and the local endpoint is HTTP: the TLS-only deny is left out.
    assert stack.resource("ArchiveBucketPolicy").status == "local"
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=archive)
    s3.put_object(Bucket=archive, Key="k", Body=b"x", ChecksumAlgorithm="SHA256")
    (group,) = stack.client("logs").describe_log_groups(logGroupNamePrefix="/kefu/local/app")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 14
    assert stack.resource("ProdOnlyQueue").status == "disabled"
    queues = stack.client("sqs").list_queues()["QueueUrls"]
    assert not [q for q in queues if "ProdOnlyQueue" in q]


def test_provisioning_again_reuses_everything(stack):
    again = provision(stack.template, stack.moto_url)
    for logical_id, record in stack.registry.resources.items():
        if record.status in ("created", "reused"):
            assert again[logical_id].status == "reused", logical_id
            assert again[logical_id].physical_id == record.physical_id, logical_id


def test_cognito_password_auth_and_jwks(stack):
    pool = stack.resource("UserPool")
    client_id = stack.resource("UserPoolClient").physical_id
    idp = stack.client("cognito-idp")
    described = idp.describe_user_pool_client(UserPoolId=pool.physical_id, ClientId=client_id)
    assert "ALLOW_USER_PASSWORD_AUTH" in described["UserPoolClient"]["ExplicitAuthFlows"]

    idp.admin_create_user(
        UserPoolId=pool.physical_id,
        Username="demo:owner",
        UserAttributes=[{"Name": "custom:shop_id", "Value": "demo"}],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(
        UserPoolId=pool.physical_id,
        Username="demo:owner",
        Password="kefu-Local-123",
        Permanent=True,
    )
    auth = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo:owner", "PASSWORD": "kefu-Local-123"},
    )["AuthenticationResult"]
    assert auth["AccessToken"] and auth["IdToken"] and auth["RefreshToken"]

    provider_url = pool.attributes["ProviderURL"]
    assert provider_url == f"{stack.moto_url}/{pool.physical_id}"
    jwks_url = f"{provider_url}/.well-known/jwks.json"
    assert pool.details["jwks_url"] == jwks_url
    jwks = requests.get(jwks_url, timeout=5)
    assert jwks.status_code == 200 and jwks.json()["keys"][0]["kid"] == "dummy"

    # Verify exactly the way a function does in AWS: keys from the ProviderURL, iss = ProviderURL.
    signing_key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(auth["AccessToken"])
    claims = jwt.decode(
        auth["AccessToken"],
        signing_key.key,
        algorithms=["RS256"],
        issuer=provider_url,
        options={"verify_aud": False},
    )
    assert claims["token_use"] == "access"
    assert claims["client_id"] == client_id
    assert claims["username"] == "demo:owner"


SMALL_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Environment: {Variables: {Q: !GetAtt Q.QueueName}}
      Events:
        Hello: {Type: Api, Properties: {Path: /hello, Method: get}}
        Work: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
"""


def small_template(tmp_path: Path) -> Path:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        "import os\n\ndef handler(event, context):\n    return {'q': os.environ['Q'], 'e': event}\n"
    )
    (tmp_path / "template.yaml").write_text(SMALL_TEMPLATE)
    return tmp_path / "template.yaml"


def test_stack_lifecycle_restores_environment(tmp_path):
    template = small_template(tmp_path)
    before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "Q")}
    with LocalStack(template, port=0, moto_port=0, schedules=False) as small:
        assert small.invoke("Fn", {"x": 1}) == {"q": "kefu-local-Q", "e": {"x": 1}}
        hello = requests.get(f"{small.api_url}/hello", timeout=5)
        assert hello.status_code == 502  # not a proxy response: API Gateway's answer
        # The implicit API (no RestApiId) uses SAM's Prod stage.
        assert small.resource("ServerlessRestApi").details["stage"] == "Prod"
        small.set_env("Q", "overridden")
        assert small.invoke("Fn", {})["q"] == "overridden"
        api_url = small.api_url
    assert {k: os.environ.get(k) for k in before} == before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api_url}/hello", timeout=2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_main_starts_and_stops_cleanly_on_sigint(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local",
            "--template",
            str(small_template(tmp_path)),
            "--port",
            "0",
            "--moto-port",
            "0",
            "--wechat-port",
            "0",
            "--no-demo",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    banner = []
    try:
        deadline = time.monotonic() + 40
        for line in process.stdout:
            banner.append(line)
            if "Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        text = "".join(banner)
        assert "api: http://127.0.0.1:" in text, text
        assert "Fn (app.handler): GET /hello; SQS kefu-local-Q" in text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
