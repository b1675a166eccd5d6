"""Building blocks for tests: a shop with staff, customers, and their messages."""

from __future__ import annotations

import json

from kefu.auth.actors import StaffActor
from kefu.auth.staff_tokens import cognito_username
from kefu.conversations.inbound import Received
from kefu.ids import now_ms
from kefu.storage.shops import ShopProfile, StaffMember

from infra.bench.moto_env import customer_message
from tests.support.aws import aws_client

WECHAT = {"app_secret": "s3cret", "token": "pushtoken", "encoding_aes_key": "a" * 43}


def make_shop(
    shop_id: str = "shop-a", *, appid: str | None = None, mall_id: str | None = None
) -> ShopProfile:
    sm = aws_client("secretsmanager")
    secret_id = f"kefu/test/shops/{shop_id}/wechat"
    sm.create_secret(Name=secret_id, SecretString=json.dumps(WECHAT))
    app_login_id = f"kefu/test/shops/{shop_id}/app-login"
    sm.create_secret(Name=app_login_id, SecretString=f"{shop_id}-app-login-key")
    shop = ShopProfile(
        shop_id,
        name=f"Shop {shop_id}",
        wechat_appid=appid or f"wx{shop_id.replace('-', '')}",
        wechat_secret_id=secret_id,
        app_login_secret_id=app_login_id,
        created_at=now_ms(),
        mall_id=mall_id,
    )
    shop.save()
    return shop


def make_staff(
    shop_id: str, username: str, role: str = "agent", *, password: str | None = None, pool_id=None
) -> StaffActor:
    at = now_ms()
    StaffMember(
        shop_id,
        StaffMember.key(username),
        username=username,
        role=role,
        status="active",
        created_at=at,
        updated_at=at,
    ).save()
    if password and pool_id:
        idp = aws_client("cognito-idp")
        name = cognito_username(shop_id, username)
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username=name, Password=password, Permanent=True
        )
    return StaffActor(shop_id=shop_id, username=username, role=role)


def customer_says(
    shop_id: str,
    openid: str,
    text: str,
    *,
    dedupe_key: str | None = None,
    at: int | None = None,
    bot: bool = False,
) -> Received:
    """A WeChat customer's text message, straight into the domain (no HTTP). `bot`: the shop's
    bot is on (what intake reads from the shop profile)."""
    return customer_message(shop_id, openid, text, dedupe_key=dedupe_key, at=at, bot=bot)


def enable_shop_events(shop_id: str, key: str | None = None) -> str:
    """Give the shop a shop-events signing key (POST /v1/shop-events); returns the key."""
    key = key or f"{shop_id}-shop-events-key"
    secret_id = f"kefu/test/shops/{shop_id}/shop-events"
    aws_client("secretsmanager").create_secret(Name=secret_id, SecretString=key)
    shop = ShopProfile.get(shop_id, "PROFILE")
    shop.update(actions=[ShopProfile.shop_events_secret_id.set(secret_id)])
    return key


def make_customer(shop_id: str, customer_id: str, **attrs: object) -> str:
    """A customer item as intake would have created it (plus any CRM attributes given)."""
    from kefu.storage.customers import Customer

    Customer(
        shop_id,
        Customer.key(customer_id),
        customer_id=customer_id,
        display_name=f"客户 {customer_id}",
        created_at=now_ms(),
        **attrs,
    ).save()
    return customer_id
