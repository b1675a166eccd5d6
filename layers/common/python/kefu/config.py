"""Settings read from the function's environment (set by template.yaml, or by the local runner).

Read once per process: Lambda environments do not change while an instance lives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from kefu import caches


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    event_bus_name: str
    media_bucket: str
    knowledge_bucket: str
    wechat_api_base_url: str
    customer_token_secret_arn: str
    customer_token_ttl_seconds: int
    user_pool_id: str
    user_pool_client_id: str
    cognito_jwks_url: str
    cognito_issuer: str
    resolved_close_after_hours: int


@cache
def settings() -> Settings:
    region = env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1"))
    pool_id = env("USER_POOL_ID")
    # ProviderURL is the issuer of the pool's tokens; locally the runner points it at moto.
    issuer = env("COGNITO_ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    return Settings(
        stage=env("STAGE", "local"),
        region=region,
        event_bus_name=env("EVENT_BUS_NAME", "kefu-events"),
        media_bucket=env("MEDIA_BUCKET", "kefu-media"),
        knowledge_bucket=env("KNOWLEDGE_BUCKET", "kefu-knowledge"),
        wechat_api_base_url=env("WECHAT_API_BASE_URL", "https://api.weixin.qq.com"),
        customer_token_secret_arn=env("CUSTOMER_TOKEN_SECRET_ARN"),
        customer_token_ttl_seconds=int(env("CUSTOMER_TOKEN_TTL_SECONDS", "7200")),
        user_pool_id=pool_id,
        user_pool_client_id=env("USER_POOL_CLIENT_ID"),
        cognito_jwks_url=env("COGNITO_JWKS_URL") or f"{issuer}/.well-known/jwks.json",
        cognito_issuer=issuer,
        resolved_close_after_hours=int(env("RESOLVED_CLOSE_AFTER_HOURS", "24")),
    )


caches.register("kefu.config.settings", settings.cache_clear)
