"""Staff accounts: Cognito holds the credentials, the shop's staff records hold the roles, and
every change is written together with its audit record (docs/staff.md).

Sign-in (password, the new-password and TOTP challenges, refresh) lives in kefu.staff.login;
what disabling someone does to their conversations and sockets in kefu.staff.offboarding.
"""

from __future__ import annotations

import re
import secrets
import string
from contextlib import suppress

import msgspec
from pynamodb.exceptions import TransactWriteError

from kefu.audit import record_access, staff_change
from kefu.auth.actors import StaffActor
from kefu.auth.permissions import STAFF_MANAGE, STAFF_PASSWORD_RESET, STAFF_READ, require
from kefu.auth.staff_tokens import cognito_username
from kefu.aws import client
from kefu.config import settings
from kefu.errors import Conflict, Forbidden, NotFound
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


# The user pool's policy (template.yaml StaffUserPool), checked here first so that a weak
# password is refused before anything is created, with a message that says why.
MIN_PASSWORD_LENGTH = 12
_PASSWORD_CLASSES = (
    (re.compile(r"[a-z]"), "a lower-case letter"),
    (re.compile(r"[A-Z]"), "an upper-case letter"),
    (re.compile(r"[0-9]"), "a digit"),
    (re.compile(r"[\^$*.\[\]{}()?\"!@#%&/\\,><':;|_~`=+\- ]"), "a symbol"),
)


def check_password_policy(password: str) -> None:
    missing = [name for pattern, name in _PASSWORD_CLASSES if not pattern.search(password)]
    if len(password) < MIN_PASSWORD_LENGTH or missing:
        needs = [f"at least {MIN_PASSWORD_LENGTH} characters", *missing]
        raise Conflict("password needs " + ", ".join(needs), code="weak_password")


def temporary_password() -> str:
    """16 random characters with every class the pool requires."""
    rng = secrets.SystemRandom()
    chars = [
        rng.choice(string.ascii_lowercase),
        rng.choice(string.ascii_uppercase),
        rng.choice(string.digits),
        rng.choice("!@#%&*-_=+"),
    ]
    chars += [rng.choice(string.ascii_letters + string.digits) for _ in range(12)]
    rng.shuffle(chars)
    return "".join(chars)


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
    if new.password is not None:
        check_password_policy(new.password)
    # Check first: an existing username must cost its owner nothing (no password replaced).
    if _find(actor.shop_id, new.username) is not None:
        raise Conflict(f"staff member {new.username!r} already exists", code="staff_exists")
    temporary = None if new.password else temporary_password()
    password = new.password or temporary
    assert password is not None  # one of the two, by the line above
    _ensure_cognito_user(actor.shop_id, new.username, password, permanent=temporary is None)
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
    created = member.to_public()
    if temporary:
        # Shown once, to the owner who created the account; changed at the first sign-in.
        return {**created, "temporary_password": temporary}
    return created


def _find(shop_id: str, username: str) -> StaffMember | None:
    try:
        return StaffMember.get(shop_id, StaffMember.key(username), consistent_read=True)
    except StaffMember.DoesNotExist:
        return None


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
        if change.status == "disabled":  # again: finishes a disable that stopped half way
            _disable_everywhere(actor, username, request_id)
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
                    # A role change is its own action, so the audit can be filtered for it.
                    action="staff.role_changed"
                    if "role" in _changed(before, after)
                    else (
                        "staff.disabled"
                        if "status" in _changed(before, after) and change.status == "disabled"
                        else "staff.updated"
                    ),
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
        after["offboarding"] = _disable_everywhere(actor, username, request_id)
    elif change.status == "active" and before["status"] == "disabled":
        client("cognito-idp").admin_enable_user(
            UserPoolId=settings().user_pool_id, Username=cognito_username(actor.shop_id, username)
        )
    return after


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in ("role", "display_name", "status") if before.get(k) != after.get(k)}


def _disable_everywhere(actor: StaffActor, username: str, request_id: str | None) -> dict:
    """The staff record is disabled already (their tokens are refused from now on): sign them
    out of Cognito, take them offline, requeue their conversations, close their sockets."""
    from kefu.staff.offboarding import offboard

    idp = client("cognito-idp")
    name = cognito_username(actor.shop_id, username)
    # No Cognito user (never created, or removed by hand): nobody can sign in as them anyway.
    with suppress(idp.exceptions.UserNotFoundException):
        idp.admin_disable_user(UserPoolId=settings().user_pool_id, Username=name)
        idp.admin_user_global_sign_out(UserPoolId=settings().user_pool_id, Username=name)
    return offboard(actor, username, request_id=request_id)


def reset_password(actor: StaffActor, username: str, *, request_id: str | None = None) -> dict:
    """A temporary password that must be changed at the next sign-in (Cognito's
    NEW_PASSWORD_REQUIRED); every session of theirs is signed out. Owners reset anyone but
    themself; supervisors reset agents only (never someone who could then act as an owner)."""
    require(actor, STAFF_PASSWORD_RESET)
    if username == actor.username:
        raise Forbidden(
            "reset someone else's password; change your own by signing in", code="self_change"
        )
    member = get_staff(actor.shop_id, username)
    if not actor.can(STAFF_MANAGE) and member.role != "agent":
        raise Forbidden("supervisors may reset agents' passwords only", code="permission_denied")
    if member.status != "active":
        raise Conflict(f"{username} is disabled: enable them first", code="staff_disabled")
    temporary = temporary_password()
    # The record first: a reset that is not on record must not be possible (one that failed
    # after its record says so by having no sign-in with the new password).
    record_access(
        actor,
        action="staff.password_reset",
        target_type="staff",
        target_id=username,
        details={"temporary": True},
        request_id=request_id,
    )
    idp = client("cognito-idp")
    name = cognito_username(actor.shop_id, username)
    pool = settings().user_pool_id
    idp.admin_set_user_password(UserPoolId=pool, Username=name, Password=temporary, Permanent=False)
    idp.admin_user_global_sign_out(UserPoolId=pool, Username=name)
    return {
        "username": username,
        "temporary_password": temporary,
        "must_change_at_next_sign_in": True,
    }


def _ensure_cognito_user(shop_id: str, username: str, password: str, *, permanent: bool) -> None:
    """Idempotent: a retried create (no staff record yet, so no one's account) finds the user
    already there and carries on."""
    idp = client("cognito-idp")
    pool = settings().user_pool_id
    name = cognito_username(shop_id, username)
    with suppress(idp.exceptions.UsernameExistsException):
        idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
    if password:
        try:
            idp.admin_set_user_password(
                UserPoolId=pool, Username=name, Password=password, Permanent=permanent
            )
        except idp.exceptions.InvalidPasswordException as exc:
            raise Conflict(
                f"password rejected by the user pool: {exc}", code="weak_password"
            ) from None


from kefu.staff.login import StaffLogin as StaffLogin  # noqa: E402 - re-exported
from kefu.staff.login import staff_login as staff_login  # noqa: E402
