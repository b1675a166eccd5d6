"""Specification: `make deploy-console` publishes a build to the stack's console bucket — assets
cached for ever, index.html re-validated, config.json written from the stack's outputs."""

import json

import boto3
import pytest
from moto import mock_aws

from infra.deploy_console import console_config, publish, stack_outputs

OUTPUTS = {
    "ConsoleBucketName": "kefu-prod-console",
    "ConsoleDistributionId": "E123",
    "WebSocketUrl": "wss://ws.example/prod",
    "StaffUserPoolId": "ap-east-1_pool",
    "StaffUserPoolClientId": "client-1",
}


@pytest.fixture
def dist(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "config.json").write_text('{"left": "over from a local run"}')
    return tmp_path


def test_publish_uploads_the_build_and_writes_config_from_the_outputs(dist):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kefu-prod-console")
        written = publish(dist, OUTPUTS, "ap-east-1", s3)

        assert written == ["assets/index-abc123.js", "index.html", "config.json"]
        asset = s3.get_object(Bucket="kefu-prod-console", Key="assets/index-abc123.js")
        assert asset["CacheControl"] == "public, max-age=31536000, immutable"
        assert asset["ContentType"] in ("text/javascript", "application/javascript")
        index = s3.get_object(Bucket="kefu-prod-console", Key="index.html")
        assert (index["CacheControl"], index["ContentType"]) == ("no-cache", "text/html")
        config = s3.get_object(Bucket="kefu-prod-console", Key="config.json")
        assert config["CacheControl"] == "no-store"
        assert json.loads(config["Body"].read()) == {
            "apiBaseUrl": "",
            "webSocketUrl": "wss://ws.example/prod",
            "userPoolId": "ap-east-1_pool",
            "userPoolClientId": "client-1",
            "region": "ap-east-1",
        }


def test_publish_refuses_a_missing_build(tmp_path):
    with pytest.raises(SystemExit, match="make console"):
        publish(tmp_path, OUTPUTS, "ap-east-1", s3=None)


def test_the_api_is_on_the_console_origin_and_outputs_are_read_by_name():
    assert console_config(OUTPUTS, "us-east-1")["apiBaseUrl"] == ""

    class FakeCloudFormation:  # the shape of describe_stacks' answer
        def describe_stacks(self, StackName):  # boto3 names it so
            assert StackName == "kefu-prod"
            return {"Stacks": [{"Outputs": [{"OutputKey": "A", "OutputValue": "1"}]}]}

    assert stack_outputs(FakeCloudFormation(), "kefu-prod") == {"A": "1"}
