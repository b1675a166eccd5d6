"""Staff sign-in through Cognito, so a console or a script needs no Cognito SDK (docs/staff.md).

POST /v1/staff/login               password -> tokens, or a challenge to answer:
  NEW_PASSWORD_REQUIRED  (a temporary password)  -> POST /v1/staff/login/new-password
  SOFTWARE_TOKEN_MFA     (TOTP is on)            -> POST /v1/staff/login/mfa
POST /v1/staff/login/refresh       refresh token (JSON body or the HttpOnly cookie) -> tokens
POST /v1/staff/logout              access token -> refresh tokens revoked, cookie cleared

Every outcome is audited in the shop's trail (never the password): `staff.login` and
`staff.login_failed` with the reason. The shop must be active and the staff record active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from kefu.audit import record_event
from kefu.auth.staff_tokens import cognito_username, require_shop_active, verify_staff_token
from kefu.aws import client
from kefu.config import settings
from kefu.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized

if TYPE_CHECKING:
    from kefu.auth.actors import StaffActor

# Cognito's session strings are 20 to 2048 characters.
Session = Annotated[str, msgspec.Meta(min_length=20, max_length=2048)]
TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]
# A shop id and a username are key parts: never empty (DynamoDB refuses an empty key).
ShopId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

CHALLENGES = {
    "NEW_PASSWORD_REQUIRED": ("new_password_required", "/v1/staff/login/new-password"),
    "SOFTWARE_TOKEN_MFA": ("mfa_required", "/v1/staff/login/mfa"),
}


class StaffLogin(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: ShopId
    username: Username
    password: str
    refresh_cookie: bool = False  # the console: refresh token in an HttpOnly cookie


class StaffNewPassword(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: ShopId
    username: Username
    session: Session
    new_password: str
    refresh_cookie: bool = False


class StaffMfaAnswer(msgspec.Struct, forbid_unknown_fields=True):
    shop_id: ShopId
    username: Username
    session: Session
    code: TotpCode
    refresh_cookie: bool = False


class StaffRefresh(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: str | None = None  # or the kefu_refresh cookie (send {})


def _failed(shop_id: str, username: str, reason: str, request_id: str | None) -> None:
    from kefu.shops import shop_status

    if shop_status(shop_id) is None:  # cached by the gate: no extra read
        return  # a shop id nobody created has no trail (and anyone could name one)
    record_event(
        shop_id=shop_id,
        actor=f"staff:{username}",
        action="staff.login_failed",
        target_type="staff",
        target_id=username,
        details={"reason": reason},
        request_id=request_id,
    )


def _shop_gate(shop_id: str, username: str, request_id: str | None) -> None:
    """A suspended shop's staff are refused before Cognito is asked."""
    try:
        require_shop_active(shop_id)
    except Forbidden as exc:
        _failed(shop_id, username, exc.code, request_id)
        raise


def staff_login(login: StaffLogin, *, request_id: str | None = None) -> dict:
    _shop_gate(login.shop_id, login.username, request_id)
    idp = client("cognito-idp")
    resp = _cognito(
        login.shop_id,
        login.username,
        request_id,
        lambda: idp.initiate_auth(
            ClientId=settings().user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": cognito_username(login.shop_id, login.username),
                "PASSWORD": login.password,
            },
        ),
    )
    return _outcome(login.shop_id, login.username, resp, request_id, method="password")


def answer_new_password(answer: StaffNewPassword, *, request_id: str | None = None) -> dict:
    from kefu.staff import check_password_policy

    check_password_policy(answer.new_password)
    _shop_gate(answer.shop_id, answer.username, request_id)
    return _respond(
        answer.shop_id,
        answer.username,
        "NEW_PASSWORD_REQUIRED",
        answer.session,
        {"NEW_PASSWORD": answer.new_password},
        request_id,
    )


def answer_mfa(answer: StaffMfaAnswer, *, request_id: str | None = None) -> dict:
    _shop_gate(answer.shop_id, answer.username, request_id)
    return _respond(
        answer.shop_id,
        answer.username,
        "SOFTWARE_TOKEN_MFA",
        answer.session,
        {"SOFTWARE_TOKEN_MFA_CODE": answer.code},
        request_id,
    )


def _respond(
    shop_id: str,
    username: str,
    challenge: str,
    session: str,
    responses: dict[str, str],
    request_id: str | None,
) -> dict:
    idp = client("cognito-idp")
    resp = _cognito(
        shop_id,
        username,
        request_id,
        lambda: idp.respond_to_auth_challenge(
            ClientId=settings().user_pool_client_id,
            ChallengeName=challenge,
            Session=session,
            ChallengeResponses={"USERNAME": cognito_username(shop_id, username), **responses},
        ),
    )
    method = "new_password" if challenge == "NEW_PASSWORD_REQUIRED" else "mfa"
    return _outcome(shop_id, username, resp, request_id, method=method)


def _cognito(shop_id: str, username: str, request_id: str | None, call: Any) -> dict:
    """One Cognito call; each refusal audited with its reason and answered without internals."""
    from botocore.exceptions import ParamValidationError

    idp = client("cognito-idp")
    errors = idp.exceptions
    try:
        return call()
    except ParamValidationError:
        # What Cognito's own checks refuse (a password too long, ...): the caller's input.
        raise BadRequest("the sign-in request is not valid", code="validation_error") from None
    except errors.TooManyRequestsException:
        _failed(shop_id, username, "throttled", request_id)
        raise TooManyRequests("too many sign-in attempts: wait and retry") from None
    except errors.PasswordResetRequiredException:
        _failed(shop_id, username, "password_reset_required", request_id)
        raise Forbidden("password reset required", code="password_reset_required") from None
    except errors.InvalidPasswordException:
        _failed(shop_id, username, "weak_new_password", request_id)
        raise BadRequest(
            "the new password does not meet the password policy", code="weak_password"
        ) from None
    except errors.CodeMismatchException:
        _failed(shop_id, username, "wrong_mfa_code", request_id)
        raise Unauthorized("wrong or expired code", code="bad_mfa_code") from None
    except (errors.ExpiredCodeException, errors.ResourceNotFoundException):
        _failed(shop_id, username, "expired_session", request_id)
        raise Unauthorized(
            "the sign-in session expired or is unknown: sign in again", code="session_expired"
        ) from None
    except (errors.NotAuthorizedException, errors.UserNotFoundException) as exc:
        message = str(exc)
        reason = "user_disabled" if "disabled" in message.lower() else "bad_credentials"
        if "session" in message.lower():
            reason = "expired_session"
        _failed(shop_id, username, reason, request_id)
        raise Unauthorized("wrong shop, username or password", code="bad_credentials") from None


def _outcome(
    shop_id: str, username: str, resp: dict, request_id: str | None, *, method: str
) -> dict:
    from kefu.staff import get_staff

    if "AuthenticationResult" not in resp:
        name = resp.get("ChallengeName")
        if name not in CHALLENGES:
            _failed(shop_id, username, f"unsupported_challenge:{name}", request_id)
            raise Forbidden(
                f"sign-in needs the {name} challenge, which kefu does not handle",
                code="challenge_unsupported",
            )
        code, path = CHALLENGES[name]
        return {
            "challenge": code,
            "session": resp["Session"],
            "respond_at": path,
            "shop_id": shop_id,
            "username": username,
        }
    member = get_staff(shop_id, username)
    if member.status != "active":
        _failed(shop_id, username, "staff_disabled", request_id)
        raise Forbidden("staff account is disabled", code="staff_disabled")
    record_event(
        shop_id=shop_id,
        actor=f"staff:{username}",
        actor_role=member.role,
        action="staff.login",
        target_type="staff",
        target_id=username,
        details={"method": method},
        request_id=request_id,
    )
    result = resp["AuthenticationResult"]
    return {
        "access_token": result["AccessToken"],
        "id_token": result.get("IdToken"),
        "refresh_token": result.get("RefreshToken"),
        "expires_in": result.get("ExpiresIn"),
        "token_type": result.get("TokenType", "Bearer"),
        "staff": member.to_public(),
        "shop_id": shop_id,
    }


def refresh(refresh_token: str | None, *, request_id: str | None = None) -> dict:
    """New access and id tokens for a refresh token. Cognito refuses a revoked one (sign-out,
    password reset, disabled user); kefu refuses a disabled staff record or suspended shop."""
    if not refresh_token:
        raise Unauthorized(
            "send refresh_token in the body, or the kefu_refresh cookie", code="missing_token"
        )
    idp = client("cognito-idp")
    try:
        resp = idp.initiate_auth(
            ClientId=settings().user_pool_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except idp.exceptions.TooManyRequestsException:
        raise TooManyRequests("too many refreshes: wait and retry") from None
    except (idp.exceptions.NotAuthorizedException, idp.exceptions.UserNotFoundException):
        raise Unauthorized(
            "refresh token is invalid, expired or revoked: sign in again", code="invalid_token"
        ) from None
    result = resp["AuthenticationResult"]
    actor = verify_staff_token(result["AccessToken"])  # staff record active, shop active
    return {
        "access_token": result["AccessToken"],
        "id_token": result.get("IdToken"),
        "expires_in": result.get("ExpiresIn"),
        "token_type": result.get("TokenType", "Bearer"),
        "shop_id": actor.shop_id,
        "staff": {"username": actor.username, "role": actor.role},
    }


def sign_out(actor: StaffActor, access_token: str, *, request_id: str | None = None) -> dict:
    """Revoke the caller's refresh tokens (Cognito GlobalSignOut: every device of this staff
    member, which is what "sign out" must mean for a shared shop-floor PC) and audit it. The
    access token itself lives on until it expires (verified locally, minutes); the console
    drops it. The handler clears the HttpOnly refresh cookie, which the page cannot."""
    idp = client("cognito-idp")
    try:
        idp.global_sign_out(AccessToken=access_token)
    except idp.exceptions.TooManyRequestsException:
        raise TooManyRequests("too many sign-outs: wait and retry") from None
    except idp.exceptions.NotAuthorizedException:
        pass  # already signed out everywhere: the outcome the caller wants
    record_event(
        shop_id=actor.shop_id,
        actor=f"staff:{actor.username}",
        actor_role=actor.role,
        action="staff.logout",
        target_type="staff",
        target_id=actor.username,
        details={},
        request_id=request_id,
    )
    return {"signed_out": True, "username": actor.username}
