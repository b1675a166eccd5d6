"""The benchmarks' in-process fake AWS: moto holding every table template.yaml declares, the
event bus and both buckets, with kefu's environment pointed at them; and the few steps the
benchmarks take in it (a shop with its staff, a customer's message).

Nothing runs in another process, so infra/bench/aws_calls.py sees every request kefu makes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from infra.local.tables import TABLE_ENV, create_tables_from_template

if TYPE_CHECKING:
    from kefu.auth.actors import StaffActor
    from kefu.conversations.inbound import Received

REGION = "us-east-1"
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "STAGE": "bench",
    "EVENT_BUS_NAME": "bench-events",
    "KNOWLEDGE_BUCKET": "bench-knowledge",
    "MEDIA_BUCKET": "bench-media",
    **{env: f"bench-{env.lower().removesuffix('_table')}" for env in TABLE_ENV.values()},
}


@contextmanager
def moto_env() -> Iterator[None]:
    """kefu against moto for the duration; the process environment is restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(ENV)
    # A developer's endpoint or profile would send the calls past moto.
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    from kefu import aws, config, shops
    from moto import mock_aws

    def reset() -> None:
        # Clients, settings and shop profiles cached before (or inside) the fake must not leak.
        aws.client.cache_clear()
        config.settings.cache_clear()
        shops.clear_cache()

    try:
        with mock_aws():
            reset()
            import boto3

            create_tables_from_template(boto3.client("dynamodb", region_name=REGION))
            boto3.client("events", region_name=REGION).create_event_bus(Name=ENV["EVENT_BUS_NAME"])
            s3 = boto3.client("s3", region_name=REGION)
            for bucket in ("KNOWLEDGE_BUCKET", "MEDIA_BUCKET"):
                s3.create_bucket(Bucket=ENV[bucket])
            yield
    finally:
        reset()
        os.environ.clear()
        os.environ.update(saved)


def seed_shop(shop: str, staff: dict[str, str]) -> dict[str, StaffActor]:
    """The shop's profile and its staff (username -> role); their StaffActors by username."""
    from kefu.auth.actors import StaffActor
    from kefu.ids import now_ms
    from kefu.storage.shops import ShopProfile, StaffMember

    at = now_ms()
    ShopProfile(shop, name="bench", created_at=at).save()
    actors = {}
    for username, role in staff.items():
        StaffMember(
            shop,
            StaffMember.key(username),
            username=username,
            role=role,
            created_at=at,
            updated_at=at,
        ).save()
        actors[username] = StaffActor(shop, username, role)
    return actors


def customer_message(
    shop_id: str,
    openid: str,
    text: str,
    *,
    dedupe_key: str | None = None,
    at: int | None = None,
    bot: bool = False,
) -> Received:
    """A WeChat customer's text message received as intake receives it (the conversation opened
    or continued); `bot`: the shop's bot is on. The tests' factories use it too."""
    from kefu.conversations.inbound import InboundMessage, receive_customer_message
    from kefu.customers import WECHAT_OPENID, Identity, resolve_customer
    from kefu.ids import now_ms

    identity = resolve_customer(shop_id, Identity(WECHAT_OPENID, openid))
    at = at if at is not None else now_ms()
    return receive_customer_message(
        InboundMessage(
            shop_id=shop_id,
            channel="wechat_miniprogram",
            identity=identity,
            reply_to=f"{WECHAT_OPENID}:{openid}",
            type="text",
            content={"text": text},
            dedupe_key=dedupe_key or f"msg:{openid}:{at}:{text}",
            received_at=at,
            bot=bot,
        )
    )
