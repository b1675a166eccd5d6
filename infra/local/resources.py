"""Create the template's AWS resources in a moto server and record their physical ids.

`provision()` walks the resources in dependency order (a DLQ before the queue whose
RedrivePolicy names it, a user pool before its client) and creates what moto supports and the
functions use. Every creator reuses what already exists, so provisioning an already provisioned
moto server is a no-op. Everything else gets a placeholder physical id (one debug line each) so
Ref/GetAtt to it still resolve.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local import moto_patches
from infra.local.template import Intrinsics, Template, TemplateError, dependency_order

log = logging.getLogger(__name__)

LOCAL_TAG = "kefu-local:logical-id"  # finds resources that have no unique name (KMS keys)


@dataclass
class Resource:
    """One template resource as it exists locally."""

    logical_id: str
    type: str
    physical_id: Any  # what Ref returns
    attributes: dict[str, Any] = field(default_factory=dict)  # what GetAtt returns
    status: str = "created"  # created | reused | local | skipped | disabled
    details: dict[str, Any] = field(default_factory=dict)  # runner-only facts (queue url, ...)


class Registry:
    """Physical ids and attributes of the template's resources; the resolver's source of truth."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.resources: dict[str, Resource] = {}
        self.intrinsics = Intrinsics(template, ref=self.ref, get_att=self.get_att)

    def __contains__(self, logical_id: object) -> bool:
        return logical_id in self.resources

    def __getitem__(self, logical_id: str) -> Resource:
        return self.resources[logical_id]

    def get(self, logical_id: str) -> Resource | None:
        return self.resources.get(logical_id)

    def add(self, resource: Resource) -> Resource:
        self.resources[resource.logical_id] = resource
        return resource

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type in types]

    def resolve(self, value: Any) -> Any:
        return self.intrinsics.resolve(value)

    def ref(self, logical_id: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Ref {logical_id}: not provisioned (yet)")
        return resource.physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: not provisioned (yet)")
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        if resource.status in ("skipped", "disabled"):
            return placeholder_attribute(self.template, resource, attribute)
        raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such attribute locally")

    def queue_by_arn(self, arn: str) -> Resource | None:
        for resource in self.of_type("AWS::SQS::Queue"):
            if resource.attributes.get("Arn") == arn:
                return resource
        return None

    def summary(self) -> list[str]:
        lines = []
        for r in self.resources.values():
            if r.status in ("created", "reused"):
                lines.append(f"{r.logical_id} ({r.type}): {r.physical_id} [{r.status}]")
        return lines


def local_name(template: Template, logical_id: str) -> str:
    return f"{template.stack_name}-{logical_id}"


def placeholder_attribute(template: Template, resource: Resource, attribute: str) -> str:
    if attribute == "Arn":
        service = resource.type.split("::")[1].lower() if "::" in resource.type else "local"
        return (
            f"arn:{template.partition}:{service}:{template.region}:{template.account_id}:"
            f"{resource.physical_id}"
        )
    return f"{resource.physical_id}-{attribute}"


# --------------------------------------------------------------------------------------------
# Fitting CloudFormation properties to API parameters
# --------------------------------------------------------------------------------------------


def fit_to_shape(value: Any, shape: Any, where: str = "") -> Any:
    """Coerce `value` to a botocore input shape: drop unknown keys, convert scalar types.

    CloudFormation property names mostly equal API parameter names, but CloudFormation is lax
    about types ("5" for 5, true for "true"); botocore is not.
    """
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        out = {}
        for key, inner in value.items():
            if key in shape.members:
                out[key] = fit_to_shape(inner, shape.members[key], f"{where}.{key}")
            else:
                log.debug("%s.%s: not an API parameter locally, dropped", where, key)
        return out
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [fit_to_shape(v, shape.member, where) for v in items]
    if kind == "map":
        return {str(k): fit_to_shape(v, shape.value, where) for k, v in (value or {}).items()}
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
    if kind in ("double", "float"):
        return float(value)
    return value


def truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")


def tags_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """CloudFormation writes tags as [{Key, Value}] or as a map depending on the resource."""
    if isinstance(tags, dict):
        return [{key: str(k), value: str(v)} for k, v in tags.items()]
    return [{key: str(t["Key"]), value: str(t["Value"])} for t in tags or []]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------------------------
# Provisioning
# --------------------------------------------------------------------------------------------


class Provisioner:
    """Creates resources one by one; one method per supported resource type."""

    def __init__(self, template: Template, endpoint_url: str, region: str) -> None:
        self.template = template
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.registry = Registry(template)
        self._clients: dict[str, Any] = {}
        self.creators: dict[str, Callable[[str, dict[str, Any]], Resource]] = {
            "AWS::DynamoDB::Table": self.table,
            "AWS::DynamoDB::GlobalTable": self.table,
            "AWS::Serverless::SimpleTable": self.simple_table,
            "AWS::SQS::Queue": self.queue,
            "AWS::SQS::QueuePolicy": self.queue_policy,
            "AWS::Events::EventBus": self.event_bus,
            "AWS::Events::Rule": self.rule,
            "AWS::S3::Bucket": self.bucket,
            "AWS::S3::BucketPolicy": self.bucket_policy,
            "AWS::Cognito::UserPool": self.user_pool,
            "AWS::Cognito::UserPoolClient": self.user_pool_client,
            "AWS::Cognito::UserPoolGroup": self.user_pool_group,
            "AWS::SecretsManager::Secret": self.secret,
            "AWS::SSM::Parameter": self.ssm_parameter,
            "AWS::SNS::Topic": self.topic,
            "AWS::SNS::Subscription": self.subscription,
            "AWS::KMS::Key": self.kms_key,
            "AWS::KMS::Alias": self.kms_alias,
            "AWS::Logs::LogGroup": self.log_group,
            # Not created in moto: the runner itself plays these parts.
            "AWS::Serverless::Function": self.function,
            "AWS::Lambda::Function": self.function,
            "AWS::Serverless::LayerVersion": self.layer,
            "AWS::Lambda::LayerVersion": self.layer,
            "AWS::Serverless::Api": self.api,
            "AWS::ApiGateway::RestApi": self.api,
        }
        # Deliberately not emulated (moto has nothing the functions would see): WAFv2 web ACLs
        # and their associations, CloudWatch alarms, IAM roles, API Gateway account settings.
        # They get placeholder ids like every other type without a creator.

    # -- helpers -----------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.session.Session().client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 2}),
            )
        return self._clients[service]

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call `operation` with `params` fitted to its input shape."""
        client = self.client(service)
        shape = client.meta.service_model.operation_model(operation).input_shape
        method = getattr(client, xform_name(operation))
        return method(**fit_to_shape(params, shape, f"{service}.{operation}"))

    def name(self, logical_id: str, explicit: Any = None) -> str:
        return str(explicit) if explicit else local_name(self.template, logical_id)

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        t = self.template
        return (
            f"arn:{t.partition}:{service}:{t.region if region else ''}:"
            f"{t.account_id if account else ''}:{resource}"
        )

    # -- driver ------------------------------------------------------------------------------

    def run(self) -> Registry:
        template = self.template
        moto_patches.install()  # fidelity fixes; affect only a moto server in this process
        for logical_id in dependency_order(template):
            spec = template.resources[logical_id]
            rtype = str(spec.get("Type", ""))
            if not template.is_enabled(logical_id):
                log.debug("%s (%s): condition false, not created", logical_id, rtype)
                self.registry.add(
                    Resource(logical_id, rtype, local_name(template, logical_id), status="disabled")
                )
                continue
            creator = self.creators.get(rtype)
            if creator is None:
                log.debug("%s (%s): not emulated locally, skipped", logical_id, rtype)
                self.registry.add(
                    Resource(logical_id, rtype, local_name(template, logical_id), status="skipped")
                )
                continue
            props = self.registry.resolve(spec.get("Properties") or {}) or {}
            resource = creator(logical_id, props)
            resource.type = rtype
            self.registry.add(resource)
            log.debug("%s (%s): %s %s", logical_id, rtype, resource.status, resource.physical_id)
        return self.registry

    # -- DynamoDB ----------------------------------------------------------------------------

    def table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("TableName"))
        params = {k: v for k, v in props.items() if k not in ("SSESpecification", "Replicas")}
        params["TableName"] = name
        stream = props.get("StreamSpecification")
        if stream:
            params["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream.get("StreamViewType", "NEW_AND_OLD_IMAGES"),
            }
        if "Tags" in props:
            params["Tags"] = tags_list(props["Tags"])
        if "ProvisionedThroughput" not in params and "BillingMode" not in params:
            params["BillingMode"] = "PAY_PER_REQUEST"  # locally capacity is meaningless
        ddb = self.client("dynamodb")
        status = "created"
        try:
            self.call("dynamodb", "CreateTable", params)
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
            status = "reused"
        ttl = props.get("TimeToLiveSpecification")
        if ttl and status == "created" and truthy(ttl.get("Enabled", False)):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and status == "created":
            try:
                self.call(
                    "dynamodb",
                    "UpdateContinuousBackups",
                    {"TableName": name, "PointInTimeRecoverySpecification": pitr},
                )
            except ClientError as exc:  # cosmetic locally
                log.debug("%s: PITR not applied: %s", logical_id, exc)
        table = ddb.describe_table(TableName=name)["Table"]
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Resource(logical_id, "", name, attributes, status)

    def simple_table(self, logical_id: str, props: dict[str, Any]) -> Resource:
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        key_type = {"String": "S", "Number": "N", "Binary": "B"}.get(key.get("Type"), "S")
        params = {
            "TableName": props.get("TableName"),
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        return self.table(logical_id, params)

    # -- SQS ---------------------------------------------------------------------------------

    QUEUE_ATTRIBUTES = (
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
    )

    def queue(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = truthy(props.get("FifoQueue", False))
        name = props.get("QueueName") or self.name(logical_id) + (".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in self.QUEUE_ATTRIBUTES:
            if key not in props:
                continue
            value = props[key]
            if isinstance(value, dict):
                value = json.dumps(value)
            attributes[key] = fit_to_shape(value, _STRING_SHAPE)
        if not fifo:
            attributes.pop("FifoQueue", None)
        tags = {t["Key"]: str(t["Value"]) for t in tags_list(props.get("Tags"))}
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if "NonExistentQueue" not in error_code(exc):
                raise
            url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
            status = "created"
        else:
            # CreateQueue would refuse different attributes; converge them instead. Only the
            # changed ones: moto's SetQueueAttributes drops a Policy it is not given.
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            changed = {
                k: v
                for k, v in attributes.items()
                if k != "FifoQueue" and not _same_attribute(current.get(k), v)
            }
            if changed:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
            status = "reused"
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        details = {
            "url": url,
            "visibility_timeout": int(props.get("VisibilityTimeout", 30)),
            "redrive_policy": redrive,
        }
        return Resource(
            logical_id,
            "",
            url,
            {"Arn": arn, "QueueName": name, "QueueUrl": url},
            status,
            details,
        )

    def queue_policy(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # moto does not enforce queue policies, but keeping them makes GetQueueAttributes honest.
        policy = props.get("PolicyDocument")
        text = policy if isinstance(policy, str) else json.dumps(policy)
        sqs = self.client("sqs")
        status = "reused"
        for url in props.get("Queues") or []:
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            existing = current.get("Attributes", {}).get("Policy")
            if not existing or json.loads(existing) != json.loads(text):
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": text})
                status = "created"
        return Resource(logical_id, "", self.name(logical_id), status=status)

    # -- EventBridge -------------------------------------------------------------------------

    def event_bus(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("Name"))
        events = self.client("events")
        status = "created"
        try:
            arn = self.call("events", "CreateEventBus", {**props, "Name": name})["EventBusArn"]
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            arn = events.describe_event_bus(Name=name)["Arn"]
            status = "reused"
        return Resource(logical_id, "", name, {"Arn": arn, "Name": name}, status)

    def rule(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("Name"))
        bus = bus_name(props.get("EventBusName") or "default")
        params = {k: v for k, v in props.items() if k not in ("Targets", "EventBusName")}
        params.update({"Name": name, "EventBusName": bus})
        if "ScheduleExpression" in props:
            log.warning(
                "%s: rule schedules are not fired locally; use a function Schedule event",
                logical_id,
            )
        try:
            self.client("events").describe_rule(Name=name, EventBusName=bus)
            status = "reused"
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            status = "created"
        arn = self.call("events", "PutRule", params)["RuleArn"]  # upsert: converges either way
        targets, lambda_targets = [], []
        for target in props.get("Targets") or []:
            service = str(target.get("Arn", "")).split(":")[2:3]
            if service == ["lambda"]:
                # moto cannot invoke our functions: route through a queue the runner polls.
                bridge = self.bridge_queue(f"{name}-{target.get('Id', 'target')}")
                lambda_targets.append({**bridge, "function_arn": target["Arn"]})
                target = {**target, "Arn": bridge["queue_arn"]}
            elif service not in (["sqs"], ["logs"], ["events"]):
                # moto raises NotImplementedError on PutEvents for other target types.
                log.warning("%s: target %s not deliverable locally, skipped", logical_id, target)
                continue
            targets.append(target)
        if targets:
            self.call(
                "events", "PutTargets", {"Rule": name, "EventBusName": bus, "Targets": targets}
            )
        return Resource(
            logical_id,
            "",
            name,
            {"Arn": arn},
            status,
            details={"event_bus": bus, "lambda_targets": lambda_targets},
        )

    def bridge_queue(self, base_name: str) -> dict[str, str]:
        """A hidden queue standing in for EventBridge's asynchronous Lambda invoke."""
        name = f"{self.template.stack_name}-eb-{_safe_name(base_name)}"[:80]
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return {"queue_url": url, "queue_arn": arn}

    # -- S3 ----------------------------------------------------------------------------------

    def bucket(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = str(props.get("BucketName") or self.name(logical_id)).lower()
        s3 = self.client("s3")
        status = "created"
        params: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            s3.head_bucket(Bucket=name)  # CreateBucket succeeds again in us-east-1: ask first
            status = "reused"
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            if truthy(props.get("ObjectLockEnabled", False)):
                params["ObjectLockEnabledForBucket"] = True  # only possible at creation
            s3.create_bucket(**params)
        cors = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if cors:
            rules = []
            for rule in cors:
                converted = {k: v for k, v in rule.items() if k not in ("Id", "MaxAge")}
                if "Id" in rule:
                    converted["ID"] = rule["Id"]
                if "MaxAge" in rule:
                    converted["MaxAgeSeconds"] = rule["MaxAge"]
                rules.append(converted)
            self.call(
                "s3", "PutBucketCors", {"Bucket": name, "CORSConfiguration": {"CORSRules": rules}}
            )
        versioning = props.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning.get("Status", "Enabled")}
            )
        public_access = props.get("PublicAccessBlockConfiguration")
        if public_access:
            self.call(
                "s3",
                "PutPublicAccessBlock",
                {"Bucket": name, "PublicAccessBlockConfiguration": public_access},
            )
        lock = props.get("ObjectLockConfiguration")
        if lock and status == "created" and truthy(props.get("ObjectLockEnabled", False)):
            self.call(
                "s3",
                "PutObjectLockConfiguration",
                {"Bucket": name, "ObjectLockConfiguration": lock},
            )
        lifecycle = (props.get("LifecycleConfiguration") or {}).get("Rules")
        if lifecycle:
            self.call(
                "s3",
                "PutBucketLifecycleConfiguration",
                {
                    "Bucket": name,
                    "LifecycleConfiguration": {"Rules": [_lifecycle_rule(r) for r in lifecycle]},
                },
            )
        self._bucket_notifications(logical_id, name, props.get("NotificationConfiguration"))
        if props.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags_list(props["Tags"])})
        t = self.template
        attributes = {
            "Arn": f"arn:{t.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.{t.url_suffix}",
            "RegionalDomainName": f"{name}.s3.{t.region}.{t.url_suffix}",
            "DualStackDomainName": f"{name}.s3.dualstack.{t.region}.{t.url_suffix}",
            "WebsiteURL": f"http://{name}.s3-website-{t.region}.{t.url_suffix}",
        }
        return Resource(logical_id, "", name, attributes, status)

    def bucket_policy(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # moto evaluates bucket policies, and the local endpoint is plain HTTP: a TLS-only deny
        # (aws:SecureTransport false) would refuse every local request, so it is left out here.
        # Any other statement is stored as written.
        policy = props.get("PolicyDocument")
        document = json.loads(policy) if isinstance(policy, str) else dict(policy or {})
        statements = [s for s in _as_list(document.get("Statement")) if not _requires_tls(s)]
        if not statements:
            log.debug("%s: only a TLS-only deny, not applied over local HTTP", logical_id)
            return Resource(logical_id, "", self.name(logical_id), status="local")
        text = json.dumps({**document, "Statement": statements})
        s3 = self.client("s3")
        try:
            current = s3.get_bucket_policy(Bucket=props["Bucket"])["Policy"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            current = None
        if current is not None and _same_attribute(current, text):
            return Resource(logical_id, "", self.name(logical_id), status="reused")
        s3.put_bucket_policy(Bucket=props["Bucket"], Policy=text)
        return Resource(logical_id, "", self.name(logical_id))

    def _bucket_notifications(self, logical_id: str, name: str, config: Any) -> None:
        if not config:
            return
        queues = []
        for entry in config.get("QueueConfigurations") or []:
            converted: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                converted["Filter"] = {"Key": {"FilterRules": rules}}
            queues.append(converted)
        if config.get("LambdaConfigurations") or config.get("TopicConfigurations"):
            log.warning("%s: only SQS bucket notifications are emulated locally", logical_id)
        if queues:
            self.client("s3").put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
            )

    # -- Cognito -----------------------------------------------------------------------------

    def user_pool(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("UserPoolName"))
        idp = self.client("cognito-idp")
        existing = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name]
        if existing:
            pool_id, status = existing[0]["Id"], "reused"
        else:
            if props.get("LambdaConfig"):
                log.warning("%s: Cognito Lambda triggers are not emulated locally", logical_id)
            params = {
                k: v
                for k, v in props.items()
                if k
                not in (
                    "UserPoolName",
                    "LambdaConfig",
                    "EmailConfiguration",
                    "SmsConfiguration",
                    "EnabledMfas",  # CloudFormation's; the API sets it with SetUserPoolMfaConfig
                )
            }
            params["PoolName"] = name
            pool_id = self.call("cognito-idp", "CreateUserPool", params)["UserPool"]["Id"]
            if "SOFTWARE_TOKEN_MFA" in (props.get("EnabledMfas") or []):
                idp.set_user_pool_mfa_config(
                    UserPoolId=pool_id,
                    SoftwareTokenMfaConfiguration={"Enabled": True},
                    MfaConfiguration=props.get("MfaConfiguration", "OPTIONAL"),
                )
            status = "created"
        arn = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
        # ProviderURL must locate the JWKS: moto serves GET /<pool id>/.well-known/jwks.json.
        provider_url = f"{self.endpoint_url}/{pool_id}"
        moto_patches.register_local_issuer(pool_id, provider_url)
        attributes = {
            "Arn": arn,
            "UserPoolId": pool_id,
            "ProviderURL": provider_url,
            "ProviderName": provider_url.split("://", 1)[1],
        }
        details = {"jwks_url": f"{provider_url}/.well-known/jwks.json", "issuer": provider_url}
        return Resource(logical_id, "", pool_id, attributes, status, details)

    def user_pool_client(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("ClientName"))
        pool_id = props["UserPoolId"]
        idp = self.client("cognito-idp")
        existing = [
            c
            for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)[
                "UserPoolClients"
            ]
            if c["ClientName"] == name
        ]
        if existing:
            client_id, status = existing[0]["ClientId"], "reused"
        else:
            params = {**props, "ClientName": name}
            client_id = self.call("cognito-idp", "CreateUserPoolClient", params)["UserPoolClient"][
                "ClientId"
            ]
            status = "created"
        described = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
        attributes = {"Name": name, "ClientId": client_id}
        if described["UserPoolClient"].get("ClientSecret"):
            attributes["ClientSecret"] = described["UserPoolClient"]["ClientSecret"]
        return Resource(logical_id, "", client_id, attributes, status, {"user_pool_id": pool_id})

    def user_pool_group(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("GroupName"))
        status = "created"
        try:
            self.call("cognito-idp", "CreateGroup", {**props, "GroupName": name})
        except ClientError as exc:
            if error_code(exc) != "GroupExistsException":
                raise
            status = "reused"
        return Resource(logical_id, "", name, {}, status)

    # -- Secrets, parameters -----------------------------------------------------------------

    def secret(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("Name"))
        sm = self.client("secretsmanager")
        try:
            arn = sm.describe_secret(SecretId=name)["ARN"]
            status = "reused"
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            value = props.get("SecretString")
            if value is None:
                value = generate_secret_string(props.get("GenerateSecretString") or {})
            params = {
                "Name": name,
                "Description": props.get("Description", ""),
                "SecretString": value if isinstance(value, str) else json.dumps(value),
                "Tags": tags_list(props.get("Tags")),
            }
            arn = self.call("secretsmanager", "CreateSecret", params)["ARN"]
            status = "created"
        return Resource(logical_id, "", arn, {"Id": arn, "Name": name}, status)

    def ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("Name"))
        ssm = self.client("ssm")
        status = "created"
        params = {**props, "Name": name}
        if "Value" in props and isinstance(props["Value"], list):
            params["Value"] = ",".join(str(v) for v in props["Value"])
        if params.get("Tags"):
            params["Tags"] = tags_list(params["Tags"])
        try:
            self.call("ssm", "PutParameter", params)
        except ClientError as exc:
            if error_code(exc) != "ParameterAlreadyExists":
                raise
            status = "reused"
        current = ssm.get_parameter(Name=name)["Parameter"]
        attributes = {"Type": current["Type"], "Value": current["Value"]}
        return Resource(logical_id, "", name, attributes, status)

    # -- SNS ---------------------------------------------------------------------------------

    def topic(self, logical_id: str, props: dict[str, Any]) -> Resource:
        fifo = truthy(props.get("FifoTopic", False))
        name = props.get("TopicName") or self.name(logical_id) + (".fifo" if fifo else "")
        attributes = {
            k: v
            for k, v in props.items()
            if k in ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId")
        }
        if not fifo:
            attributes.pop("FifoTopic", None)
        params = {"Name": name, "Attributes": attributes, "Tags": tags_list(props.get("Tags"))}
        try:
            self.client("sns").get_topic_attributes(TopicArn=self.arn("sns", name))
            status = "reused"
        except ClientError as exc:
            if error_code(exc) != "NotFound":
                raise
            status = "created"
        arn = self.call("sns", "CreateTopic", params)["TopicArn"]  # idempotent by name
        for sub in props.get("Subscription") or []:
            self._subscribe(logical_id, arn, sub.get("Protocol"), sub.get("Endpoint"), {})
        return Resource(logical_id, "", arn, {"TopicArn": arn, "TopicName": name}, status)

    def subscription(self, logical_id: str, props: dict[str, Any]) -> Resource:
        attributes = {
            k: v
            for k, v in props.items()
            if k in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")
        }
        arn = self._subscribe(
            logical_id, props["TopicArn"], props.get("Protocol"), props.get("Endpoint"), attributes
        )
        return Resource(logical_id, "", arn or self.name(logical_id))

    def _subscribe(
        self, logical_id: str, topic_arn: str, protocol: Any, endpoint: Any, attributes: dict
    ) -> str | None:
        if protocol != "sqs":
            log.debug("%s: %s subscriptions are not emulated locally", logical_id, protocol)
            return None
        params = {
            "TopicArn": topic_arn,
            "Protocol": "sqs",
            "Endpoint": endpoint,
            "Attributes": attributes,
            "ReturnSubscriptionArn": True,
        }
        return self.call("sns", "Subscribe", params)["SubscriptionArn"]

    # -- KMS ---------------------------------------------------------------------------------

    def kms_key(self, logical_id: str, props: dict[str, Any]) -> Resource:
        kms = self.client("kms")
        for key in kms.list_keys()["Keys"]:
            tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            if {"TagKey": LOCAL_TAG, "TagValue": logical_id} in tags:
                return Resource(
                    logical_id,
                    "",
                    key["KeyId"],
                    {"Arn": key["KeyArn"], "KeyId": key["KeyId"]},
                    "reused",
                )
        params = {k: v for k, v in props.items() if k not in ("KeyPolicy", "Tags")}
        if props.get("KeyPolicy"):
            params["Policy"] = props["KeyPolicy"]
        params["Tags"] = [
            *tags_list(props.get("Tags"), "TagKey", "TagValue"),
            {"TagKey": LOCAL_TAG, "TagValue": logical_id},
        ]
        meta = self.call("kms", "CreateKey", params)["KeyMetadata"]
        if truthy(props.get("EnableKeyRotation", False)):
            try:
                kms.enable_key_rotation(KeyId=meta["KeyId"])
            except ClientError as exc:
                log.debug("%s: key rotation not enabled: %s", logical_id, exc)
        return Resource(logical_id, "", meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})

    def kms_alias(self, logical_id: str, props: dict[str, Any]) -> Resource:
        kms = self.client("kms")
        name = props["AliasName"]
        try:
            kms.create_alias(AliasName=name, TargetKeyId=props["TargetKeyId"])
            status = "created"
        except ClientError as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise
            kms.update_alias(AliasName=name, TargetKeyId=props["TargetKeyId"])
            status = "reused"
        return Resource(logical_id, "", name, {}, status)

    # -- CloudWatch Logs ---------------------------------------------------------------------

    def log_group(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = props.get("LogGroupName") or f"/aws/{self.template.stack_name}/{logical_id}"
        logs = self.client("logs")
        status = "created"
        try:
            logs.create_log_group(logGroupName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            status = "reused"
        if props.get("RetentionInDays"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        arn = self.arn("logs", f"log-group:{name}:*")
        return Resource(logical_id, "", name, {"Arn": arn}, status)

    # -- played by the runner itself ---------------------------------------------------------

    def function(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("FunctionName"))
        arn = self.arn("lambda", f"function:{name}")
        return Resource(logical_id, "", name, {"Arn": arn}, "local")

    def layer(self, logical_id: str, props: dict[str, Any]) -> Resource:
        name = self.name(logical_id, props.get("LayerName"))
        arn = self.arn("lambda", f"layer:{name}:1")
        content = props.get("ContentUri") or props.get("Content")
        return Resource(logical_id, "", arn, {"Arn": arn}, "local", {"content_uri": content})

    def api(self, logical_id: str, props: dict[str, Any]) -> Resource:
        # Deterministic, API Gateway shaped id so URLs built from it are stable across runs.
        api_id = hashlib.sha1(logical_id.encode()).hexdigest()[:10]
        stage = str(props.get("StageName") or "Prod")
        root = hashlib.sha1(f"{logical_id}/".encode()).hexdigest()[:10]
        return Resource(
            logical_id,
            "",
            api_id,
            {"RootResourceId": root},
            "local",
            {"stage": stage, "properties": props},
        )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _requires_tls(statement: dict[str, Any]) -> bool:
    """A Deny whose condition is aws:SecureTransport = false (a TLS-only bucket policy)."""
    if statement.get("Effect") != "Deny":
        return False
    secure = ((statement.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")
    return str(secure).lower() == "false"


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as PutBucketLifecycleConfiguration takes it (the parts
    kefu uses; anything else is dropped with a debug line)."""
    converted: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    converted["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(noncurrent["NoncurrentDays"])
        }
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(abort["DaysAfterInitiation"])
        }
    dropped = set(rule) - {
        "Id",
        "Status",
        "Prefix",
        "ExpirationInDays",
        "NoncurrentVersionExpiration",
        "AbortIncompleteMultipartUpload",
    }
    if dropped:
        log.debug("lifecycle rule %s: %s not emulated locally", rule.get("Id"), sorted(dropped))
    return converted


_STRING_SHAPE = type("_StringShape", (), {"type_name": "string"})()


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current == wanted:
        return True
    try:
        return current is not None and json.loads(current) == json.loads(wanted)
    except ValueError:
        return False


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


def bus_name(name_or_arn: str) -> str:
    """EventBusName properties accept a name or an ARN; the APIs we call want the name."""
    return name_or_arn.split("event-bus/", 1)[1] if "event-bus/" in name_or_arn else name_or_arn


def generate_secret_string(spec: dict[str, Any]) -> str:
    """Secrets Manager's GenerateSecretString, locally (random, so never a shared default)."""
    length = int(spec.get("PasswordLength", 32))
    alphabet = ""
    if not truthy(spec.get("ExcludeLowercase", False)):
        alphabet += string.ascii_lowercase
    if not truthy(spec.get("ExcludeUppercase", False)):
        alphabet += string.ascii_uppercase
    if not truthy(spec.get("ExcludeNumbers", False)):
        alphabet += string.digits
    if not truthy(spec.get("ExcludePunctuation", False)):
        alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    if truthy(spec.get("IncludeSpace", False)):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(ch for ch in alphabet if ch not in excluded) or string.ascii_letters
    password = "".join(secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    key = spec.get("GenerateStringKey")
    if template and key:
        document = json.loads(template) if isinstance(template, str) else dict(template)
        document[key] = password
        return json.dumps(document)
    return password


def provision(template: Template, endpoint_url: str, region: str | None = None) -> Registry:
    """Create every supported resource of `template` in the moto server at `endpoint_url`."""
    return Provisioner(template, endpoint_url, region or template.region).run()
