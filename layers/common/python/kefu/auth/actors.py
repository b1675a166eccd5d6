from __future__ import annotations

from dataclasses import dataclass

from kefu.auth.permissions import has_permission


@dataclass(frozen=True)
class StaffActor:
    shop_id: str
    username: str
    role: str

    @property
    def actor_id(self) -> str:
        return f"staff:{self.username}"

    def can(self, permission: str) -> bool:
        return has_permission(self.role, permission)


@dataclass(frozen=True)
class BotActor:
    """Who the bot is when it records an off-hours message on a ticket (audited as "bot")."""

    shop_id: str
    username: str = "bot"
    role: str = "bot"

    @property
    def actor_id(self) -> str:
        return "bot"

    def can(self, permission: str) -> bool:
        return has_permission(self.role, permission)


@dataclass(frozen=True)
class CustomerActor:
    shop_id: str
    customer_id: str
    identity_kind: str  # wechat_openid | app_user
    external_id: str
    channel: str  # wechat_miniprogram | app | h5

    @property
    def actor_id(self) -> str:
        return f"customer:{self.customer_id}"
