from __future__ import annotations

from dataclasses import dataclass

from kefu.auth.permissions import has_permission


@dataclass(frozen=True)
class StaffActor:
    """`shop_id` is the shop the request acts on. Platform staff acting on another shop of
    their mall carry their own shop in `home_shop_id` and a username qualified with it
    ("<home shop>:<username>", never a username of the shop acted on), so nothing keyed by
    username (assignee, "mine", read markers, agent status) can mistake them for its staff."""

    shop_id: str
    username: str
    role: str
    home_shop_id: str | None = None
    mall_id: str | None = None

    @property
    def actor_id(self) -> str:
        return f"staff:{self.username}"

    def can(self, permission: str) -> bool:
        return has_permission(self.role, permission)

    def at_home(self) -> StaffActor:
        """The same person in their own shop (where their own changes are audited)."""
        if self.home_shop_id is None:
            return self
        bare = self.username.partition(":")[2] or self.username
        return StaffActor(self.home_shop_id, bare, self.role, mall_id=self.mall_id)


@dataclass(frozen=True)
class BotActor(StaffActor):
    """Who the bot is when it records an off-hours message on a ticket (audited as "bot"). It
    goes through the same ticket functions staff do, with the `bot` role's permissions only."""

    username: str = "bot"
    role: str = "bot"

    @property
    def actor_id(self) -> str:
        return "bot"


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
