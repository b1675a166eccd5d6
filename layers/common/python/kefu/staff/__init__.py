"""Staff accounts: Cognito holds the credentials, the shop's staff records hold the roles, and
every change is written together with its audit record."""

from __future__ import annotations

from contextlib import suppress

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.audit import staff_change
from kefu.auth.actors import StaffActor
from kefu.auth.permissions import STAFF_MANAGE, STAFF_READ, require
from kefu.auth.staff_tokens import cognito_username
from kefu.aws import client
from kefu.config import settings
from kefu.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from kefu.ids import now_ms
from kefu.pagination import decode_cursor, take_page
from kefu.storage.shops import STAFF_PREFIX, StaffMember
from kefu.storage.tx import condition_failed, write_transaction
from kefu.validation import Role, Username


class NewStaff(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    role: Role
    password: str | None = None
    display_name: str | None = None


class StaffChange(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | None = None
    display_name: str | None = None
    status: str | None = None


class StaffLogin(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: str
    username: str
    password: str


def list_staff(
    actor: StaffActor, *, limit: int, cursor: str | None
) -> tuple[list[dict], str | None]:
    require(actor, STAFF_READ)
    results = StaffMember.query(
        actor.shop_id,
        StaffMember.sk.startswith(STAFF_PREFIX),
        limit=limit,
        last_evaluated_key=decode_cursor(cursor, shop_id=actor.shop_id),
    )
    members, next_cursor = take_page(results, limit)
    return [m.to_public() for m in members], next_cursor


def get_staff(shop_id: str, username: str) -> StaffMember:
    try:
        return StaffMember.get(shop_id, StaffMember.key(username), consistent_read=True)
    except StaffMember.DoesNotExist:
        raise NotFound(
            f"no staff member {username!r} in this shop", code="staff_not_found"
        ) from None


def create_staff(actor: StaffActor, new: NewStaff, *, request_id: str | None = None) -> dict:
    require(actor, STAFF_MANAGE)
    if new.password is not None and len(new.password) < 8:
        raise Conflict("password must be at least 8 characters", code="weak_password")
    _ensure_cognito_user(actor.shop_id, new.username, new.password)
    at = now_ms()
    member = StaffMember(
        actor.shop_id,
        StaffMember.key(new.username),
        username=new.username,
        role=new.role,
        display_name=new.display_name,
        status="active",
        created_at=at,
        updated_at=at,
    )
    try:
        with write_transaction() as tx:
            tx.save(member, condition=StaffMember.sk.does_not_exist())
            tx.save(
                staff_change(
                    actor,
                    action="staff.created",
                    target_type="staff",
                    target_id=new.username,
                    after=member.to_public(),
                    request_id=request_id,
                    at_ms=at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 0):
            raise Conflict(
                f"staff member {new.username!r} already exists", code="staff_exists"
            ) from None
        raise
    return member.to_public()


def update_staff(
    actor: StaffActor, username: str, change: StaffChange, *, request_id: str | None = None
) -> dict:
    require(actor, STAFF_MANAGE)
    if change.status not in (None, "active", "disabled"):
        raise Conflict("status must be 'active' or 'disabled'", code="invalid_status")
    if username == actor.username and (change.role not in (None, actor.role) or change.status):
        # An owner demoting or disabling themself could leave the shop with no owner.
        raise Forbidden("you cannot change your own role or status", code="self_change")
    member = get_staff(actor.shop_id, username)
    before = member.to_public()
    actions = []
    for attr, value in (
        (StaffMember.role, change.role),
        (StaffMember.display_name, change.display_name),
        (StaffMember.status, change.status),
    ):
        if value is not None and getattr(member, attr.attr_name) != value:
            actions.append(attr.set(value))
    if not actions:
        return before
    at = now_ms()
    actions.append(StaffMember.updated_at.set(at))
    after = {**before, **{k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}}
    after["updated_at"] = at
    try:
        with write_transaction() as tx:
            tx.update(member, actions, condition=StaffMember.updated_at == member.updated_at)
            tx.save(
                staff_change(
                    actor,
                    action="staff.updated",
                    target_type="staff",
                    target_id=username,
                    before=before,
                    after=after,
                    request_id=request_id,
                    at_ms=at,
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc, 1):  # pynamodb sends puts before updates: the update is item 1
            raise Conflict(
                "staff member changed meanwhile: reload and retry", code="stale"
            ) from None
        raise
    if change.status == "disabled":
        idp = client("cognito-idp")
        name = cognito_username(actor.shop_id, username)
        idp.admin_disable_user(UserPoolId=settings().user_pool_id, Username=name)
        idp.admin_user_global_sign_out(UserPoolId=settings().user_pool_id, Username=name)
    elif change.status == "active" and before["status"] == "disabled":
        client("cognito-idp").admin_enable_user(
            UserPoolId=settings().user_pool_id, Username=cognito_username(actor.shop_id, username)
        )
    return after


def staff_login(login: StaffLogin) -> dict:
    """Password sign-in through Cognito, so a console or a script needs no Cognito SDK."""
    idp = client("cognito-idp")
    try:
        resp = idp.initiate_auth(
            ClientId=settings().user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": cognito_username(login.shop_id, login.username),
                "PASSWORD": login.password,
            },
        )
    except idp.exceptions.TooManyRequestsException:
        raise TooManyRequests("too many sign-in attempts: wait and retry") from None
    except idp.exceptions.PasswordResetRequiredException:
        raise Forbidden("password reset required", code="password_reset_required") from None
    except (idp.exceptions.NotAuthorizedException, idp.exceptions.UserNotFoundException):
        raise Unauthorized("wrong shop, username or password", code="bad_credentials") from None
    if "AuthenticationResult" not in resp:
        raise Forbidden(
            f"sign-in needs the {resp.get('ChallengeName')} challenge, which this endpoint "
            "does not handle: set a permanent password first",
            code="challenge_required",
        )
    member = get_staff(login.shop_id, login.username)
    if member.status != "active":
        raise Forbidden("staff account is disabled", code="staff_disabled")
    result = resp["AuthenticationResult"]
    return {
        "access_token": result["AccessToken"],
        "id_token": result.get("IdToken"),
        "refresh_token": result.get("RefreshToken"),
        "expires_in": result.get("ExpiresIn"),
        "token_type": result.get("TokenType", "Bearer"),
        "staff": member.to_public(),
        "shop_id": login.shop_id,
    }


def _ensure_cognito_user(shop_id: str, username: str, password: str | None) -> None:
    """Idempotent: a retried create finds the user already there and carries on."""
    idp = client("cognito-idp")
    pool = settings().user_pool_id
    name = cognito_username(shop_id, username)
    with suppress(idp.exceptions.UsernameExistsException):
        idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
    if password:
        try:
            idp.admin_set_user_password(
                UserPoolId=pool, Username=name, Password=password, Permanent=True
            )
        except idp.exceptions.InvalidPasswordException as exc:
            raise Conflict(
                f"password rejected by the user pool: {exc}", code="weak_password"
            ) from None
