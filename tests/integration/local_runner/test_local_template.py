"""Template loading, SAM Globals and intrinsic resolution (no servers)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from infra.local.resources import Registry, Resource
from infra.local.template import (
    IMPLICIT_API,
    Intrinsics,
    TemplateError,
    dependency_order,
    load_template,
)

from .conftest import FIXTURE_TEMPLATE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_short_tags_become_long_form():
    template = load_template(FIXTURE_TEMPLATE)
    queue = template.resources["WorkQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "${AWS::StackName}-work"}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WorkDLQ", "Arn"]}
    api_env = template.resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert api_env["USER_POOL_ID"] == {"Ref": "UserPool"}
    assert template.data["Conditions"]["IsNotProd"] == {"Fn::Not": [{"Condition": "IsProd"}]}


def test_globals_merge_with_function_level_winning():
    template = load_template(FIXTURE_TEMPLATE)
    api = template.resources["ApiFunction"]["Properties"]
    variables = api["Environment"]["Variables"]
    assert variables["STAGE"] == {"Ref": "Stage"}  # from Globals
    assert variables["BUCKET"] == {"Ref": "MediaBucket"}  # from the function
    assert variables["POWERTOOLS_SERVICE_NAME"] == "api"  # function wins over Globals
    assert api["Layers"] == [{"Ref": "CommonLayer"}]
    assert api["Runtime"] == "python3.11"
    scheduled = template.resources["ScheduledFunction"]["Properties"]
    assert scheduled["Timeout"] == 60 and api["Timeout"] == 10
    # Globals.Api reaches the Api resource too.
    assert template.resources["FixtureApi"]["Properties"]["Cors"]["AllowOrigin"] == "'*'"


def test_parameters_use_defaults_and_overrides():
    assert load_template(FIXTURE_TEMPLATE).parameters == {"Stage": "local", "RetentionDays": "7"}
    overridden = load_template(FIXTURE_TEMPLATE, parameter_overrides={"Stage": "prod"})
    assert overridden.parameters["Stage"] == "prod"
    assert overridden.is_enabled("ProdOnlyQueue")
    assert not load_template(FIXTURE_TEMPLATE).is_enabled("ProdOnlyQueue")


def test_intrinsics(tmp_path):
    path = write(
        tmp_path,
        """
        Parameters:
          Stage: {Type: String, Default: local}
          Names: {Type: CommaDelimitedList, Default: "a,b"}
        Conditions:
          IsLocal: !Equals [!Ref Stage, local]
          Both: !And [!Condition IsLocal, !Not [!Equals [!Ref Stage, prod]]]
          Either: !Or [!Equals [1, 2], !Condition IsLocal]
        Mappings:
          M: {local: {Size: 3}}
        Resources:
          Q: {Type: AWS::SQS::Queue}
        """,
    )
    template = load_template(path)
    registry = Registry(template)
    registry.add(Resource("Q", "AWS::SQS::Queue", "http://q", {"Arn": "arn:aws:sqs:us-east-1:1:q"}))
    resolve = registry.resolve
    assert resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${AWS::Region}"}) == (
        "kefu-local-local-us-east-1"
    )
    assert resolve(
        {"Fn::Sub": "${Q.Arn}|${Q}|${!Literal}|${AWS::Partition}.${AWS::URLSuffix}"}
    ) == ("arn:aws:sqs:us-east-1:1:q|http://q|${Literal}|aws.amazonaws.com")
    assert resolve({"Fn::Sub": ["${X}-${Stage}", {"X": {"Ref": "AWS::AccountId"}}]}) == (
        "123456789012-local"
    )
    assert resolve({"Fn::GetAtt": "Q.Arn"}) == "arn:aws:sqs:us-east-1:1:q"
    assert resolve({"Fn::Join": [",", {"Ref": "Names"}]}) == "a,b"
    assert resolve({"Fn::Select": [1, {"Fn::Split": ["/", "x/y/z"]}]}) == "y"
    assert resolve({"Fn::If": ["IsLocal", "yes", "no"]}) == "yes"
    assert resolve({"Fn::FindInMap": ["M", {"Ref": "Stage"}, "Size"]}) == 3
    assert resolve({"Fn::GetAZs": ""}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert resolve({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}]}) == {"b": [1]}
    assert resolve({"Fn::If": ["IsLocal", {"Ref": "AWS::NoValue"}, 1]}) is None
    intrinsics = Intrinsics(template)
    assert intrinsics.condition("Both") and intrinsics.condition("Either")
    with pytest.raises(TemplateError):
        resolve({"Ref": "Nope"})


def test_dates_stay_strings(tmp_path):
    path = write(tmp_path, "AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n")
    assert load_template(path).data["AWSTemplateFormatVersion"] == "2010-09-09"


def test_dependency_order_puts_dlq_first(tmp_path):
    path = write(
        tmp_path,
        """
        Resources:
          Client:
            Type: AWS::Cognito::UserPoolClient
            Properties: {UserPoolId: !Ref Pool}
          Main:
            Type: AWS::SQS::Queue
            Properties:
              RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 3}
          Pool: {Type: AWS::Cognito::UserPool}
          Dead: {Type: AWS::SQS::Queue}
          Later:
            Type: AWS::SNS::Topic
            DependsOn: Main
            Properties: {TopicName: !Sub "${Pool}-x"}
        """,
    )
    order = dependency_order(load_template(path))
    assert order.index("Dead") < order.index("Main")
    assert order.index("Pool") < order.index("Client")
    assert order.index("Main") < order.index("Later")


def test_implicit_api_for_events_without_rest_api_id(tmp_path):
    path = write(
        tmp_path,
        """
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Events:
                Get: {Type: Api, Properties: {Path: /x, Method: get}}
        """,
    )
    template = load_template(path)
    assert template.resources[IMPLICIT_API]["Properties"]["StageName"] == "Prod"
