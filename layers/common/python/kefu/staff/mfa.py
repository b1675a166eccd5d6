"""Optional TOTP (authenticator app) MFA per staff member, on Cognito's software tokens.

Set up: associate (Cognito returns the secret, shown as an otpauth:// URI for a QR code), then
verify one code, which turns it on and makes it the preferred MFA: from then on sign-in answers
the SOFTWARE_TOKEN_MFA challenge (POST /v1/staff/login/mfa). Agents and supervisors may turn it
off again; an owner who turned it on may not (the main account of a shop stays protected).
Cognito's calls take the caller's own access token, so nobody sets up MFA for someone else.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import msgspec

from kefu.audit import record_access
from kefu.auth.actors import StaffActor
from kefu.auth.staff_tokens import cognito_username
from kefu.aws import client
from kefu.errors import BadRequest, Forbidden, Unauthorized

ISSUER = "kefu"


class TotpVerify(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
    device_name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


def _call(fn, **kwargs):  # noqa: ANN001 - one Cognito call, errors without internals
    idp = client("cognito-idp")
    try:
        return fn(**kwargs)
    except idp.exceptions.NotAuthorizedException:
        raise Unauthorized(
            "token expired or revoked: sign in again", code="invalid_token"
        ) from None
    except (idp.exceptions.CodeMismatchException, idp.exceptions.EnableSoftwareTokenMFAException):
        raise BadRequest(
            "wrong code: enter the current one from the app", code="bad_mfa_code"
        ) from None
    except idp.exceptions.InvalidParameterException:
        raise BadRequest(
            "set up the authenticator first (POST /v1/staff/me/mfa/totp)", code="mfa_not_set_up"
        ) from None


def _own_account(actor: StaffActor) -> None:
    # MFA is the caller's own account, recorded in their own shop's trail: never while acting
    # on another shop (platform staff with X-Kefu-Shop).
    if getattr(actor, "home_shop_id", None) not in (None, actor.shop_id):
        raise Forbidden("manage your own MFA without X-Kefu-Shop", code="acting_on_another_shop")


def associate_totp(actor: StaffActor, access_token: str) -> dict:
    _own_account(actor)
    idp = client("cognito-idp")
    secret = _call(idp.associate_software_token, AccessToken=access_token)["SecretCode"]
    label = quote(f"{ISSUER}:{cognito_username(actor.shop_id, actor.username)}")
    return {
        "secret_code": secret,
        "otpauth_uri": f"otpauth://totp/{label}?secret={secret}&issuer={ISSUER}",
        "verify_at": "/v1/staff/me/mfa/totp/verify",
    }


def verify_totp(
    actor: StaffActor, access_token: str, req: TotpVerify, *, request_id: str | None = None
) -> dict:
    _own_account(actor)
    idp = client("cognito-idp")
    kwargs = {"AccessToken": access_token, "UserCode": req.code}
    if req.device_name:
        kwargs["FriendlyDeviceName"] = req.device_name
    status = _call(idp.verify_software_token, **kwargs).get("Status")
    if status != "SUCCESS":
        raise BadRequest("wrong code: enter the current one from the app", code="bad_mfa_code")
    _call(
        idp.set_user_mfa_preference,
        AccessToken=access_token,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    record_access(
        actor,
        action="staff.mfa_enabled",
        target_type="staff",
        target_id=actor.username,
        details={"method": "totp"},
        request_id=request_id,
    )
    return {"mfa": "totp", "enabled": True}


def disable_totp(actor: StaffActor, access_token: str, *, request_id: str | None = None) -> dict:
    _own_account(actor)
    if actor.role == "owner":
        raise Forbidden("an owner's MFA stays on once enabled", code="mfa_required_for_owner")
    idp = client("cognito-idp")
    _call(
        idp.set_user_mfa_preference,
        AccessToken=access_token,
        SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
    )
    record_access(
        actor,
        action="staff.mfa_disabled",
        target_type="staff",
        target_id=actor.username,
        details={"method": "totp"},
        request_id=request_id,
    )
    return {"mfa": "totp", "enabled": False}
