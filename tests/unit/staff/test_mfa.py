"""Specification: optional TOTP MFA per staff member on Cognito software tokens — set up with a
secret and one code, then sign-in asks for the code; an owner's MFA stays on once enabled.

moto's cognito-idp implements AssociateSoftwareToken, VerifySoftwareToken,
SetUserMFAPreference and the SOFTWARE_TOKEN_MFA challenge; with
MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true it checks real TOTP codes against the secret it
returned, so these tests compute codes from the secret exactly as an authenticator app would.
"""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from kefu.audit import list_audit
from kefu.auth.staff_tokens import verify_staff_token
from kefu.errors import BadRequest, Forbidden, Unauthorized
from kefu.staff import mfa
from kefu.staff.login import StaffLogin, StaffMfaAnswer, answer_mfa, staff_login

from tests.support.factories import make_shop, make_staff

PASSWORD = "Kefu-Test-123!"
SHOP = "shop-a"


@pytest.fixture
def totp_checked(monkeypatch):
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")


def _code(secret: str, at: float | None = None) -> str:
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(at or time.time()).decode()


def _signed_in(kefu_env, username, role):
    make_staff(SHOP, username, role, password=PASSWORD, pool_id=kefu_env.user_pool_id)
    session = staff_login(StaffLogin(shop_id=SHOP, username=username, password=PASSWORD))
    token = session["access_token"]
    return verify_staff_token(token), token


def _enable(actor, token):
    setup = mfa.associate_totp(actor, token)
    assert setup["otpauth_uri"].startswith("otpauth://totp/kefu%3Ashop-a%3A")
    mfa.verify_totp(actor, token, mfa.TotpVerify(code=_code(setup["secret_code"])))
    return setup["secret_code"]


def test_with_totp_on_sign_in_asks_for_the_code_and_accepts_the_right_one(kefu_env, totp_checked):
    make_shop(SHOP)
    actor, token = _signed_in(kefu_env, "alice", "agent")
    secret = _enable(actor, token)

    challenge = staff_login(StaffLogin(shop_id=SHOP, username="alice", password=PASSWORD))
    assert (challenge["challenge"], challenge["respond_at"]) == (
        "mfa_required",
        "/v1/staff/login/mfa",
    )
    with pytest.raises(Unauthorized) as err:
        answer_mfa(StaffMfaAnswer(SHOP, "alice", challenge["session"], code="000000"))
    assert err.value.code == "bad_mfa_code"
    challenge = staff_login(StaffLogin(shop_id=SHOP, username="alice", password=PASSWORD))
    session = answer_mfa(StaffMfaAnswer(SHOP, "alice", challenge["session"], code=_code(secret)))
    assert verify_staff_token(session["access_token"]).username == "alice"

    actions = [r["action"] for r in list_audit(SHOP)[0]]
    assert actions.count("staff.mfa_enabled") == 1
    logins = list_audit(SHOP, action="staff.login")[0]
    assert [r["after"]["method"] for r in logins] == ["mfa", "password"]
    assert list_audit(SHOP, action="staff.login_failed")[0][0]["after"] == {
        "reason": "wrong_mfa_code"
    }


def test_a_wrong_first_code_does_not_turn_mfa_on(kefu_env, totp_checked):
    make_shop(SHOP)
    actor, token = _signed_in(kefu_env, "alice", "agent")
    mfa.associate_totp(actor, token)
    with pytest.raises(BadRequest) as err:
        mfa.verify_totp(actor, token, mfa.TotpVerify(code="000000"))
    assert err.value.code == "bad_mfa_code"
    assert "access_token" in staff_login(
        StaffLogin(shop_id=SHOP, username="alice", password=PASSWORD)
    )


def test_agents_may_turn_mfa_off_owners_may_not(kefu_env, totp_checked):
    make_shop(SHOP)
    agent, agent_token = _signed_in(kefu_env, "alice", "agent")
    owner, owner_token = _signed_in(kefu_env, "boss", "owner")
    _enable(agent, agent_token)
    _enable(owner, owner_token)

    assert mfa.disable_totp(agent, agent_token) == {"mfa": "totp", "enabled": False}
    assert "access_token" in staff_login(
        StaffLogin(shop_id=SHOP, username="alice", password=PASSWORD)
    )
    with pytest.raises(Forbidden) as err:
        mfa.disable_totp(owner, owner_token)
    assert err.value.code == "mfa_required_for_owner"
    assert (
        staff_login(StaffLogin(shop_id=SHOP, username="boss", password=PASSWORD))["challenge"]
        == "mfa_required"
    )
