"""Specification: who is calling. Customers carry kefu's own short-lived tokens; staff carry
Cognito access tokens, and their role comes from the staff record on every request."""

import base64
import json
import time

import boto3
import jwt
import pytest
from kefu.auth import permissions as p
from kefu.auth.actors import CustomerActor, StaffActor
from kefu.auth.customer_tokens import AUDIENCE, ISSUER, issue_customer_token, verify_customer_token
from kefu.auth.staff_tokens import verify_staff_token
from kefu.config import settings
from kefu.errors import Forbidden, Unauthorized
from kefu.secrets import secret_string
from kefu.storage.shops import StaffMember

from tests.support.cognito import serve_moto_jwks, sign_as_pool
from tests.support.factories import make_shop, make_staff

PASSWORD = "Kefu-Test-123!"
CUSTOMER = CustomerActor(
    shop_id="shop-a",
    customer_id="cu_17000000000000123456789",
    identity_kind="wechat_openid",
    external_id="oOpenId-1",
    channel="wechat_miniprogram",
)


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def _sign(claims, key=None):
    return jwt.encode(
        claims, key or secret_string(settings().customer_token_secret_arn), algorithm="HS256"
    )


def _code(exc_info):
    return exc_info.value.code


# --- customer tokens ---------------------------------------------------------------------------


def test_a_customer_token_verifies_to_the_same_customer(kefu_env):
    token, expires_in = issue_customer_token(CUSTOMER)
    assert verify_customer_token(token) == CUSTOMER
    assert expires_in == settings().customer_token_ttl_seconds
    claims = _claims(token)
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, CUSTOMER.customer_id)
    assert claims["exp"] - claims["iat"] == expires_in


def test_an_expired_customer_token_is_unauthorized_with_code_token_expired(kefu_env):
    token, _ = issue_customer_token(CUSTOMER)
    now = int(time.time())
    expired = _sign({**_claims(token), "iat": now - 7300, "exp": now - 100})
    with pytest.raises(Unauthorized) as err:
        verify_customer_token(expired)
    assert _code(err) == "token_expired"


def test_a_tampered_customer_token_is_invalid(kefu_env):
    token, _ = issue_customer_token(CUSTOMER)
    header, payload, signature = token.split(".")
    claims = {**_claims(token), "shop": "shop-b"}  # try to move into another tenant
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(Unauthorized) as err:
        verify_customer_token(f"{header}.{forged}.{signature}")
    assert _code(err) == "invalid_token"


def test_a_customer_token_signed_with_another_key_is_invalid(kefu_env):
    token, _ = issue_customer_token(CUSTOMER)
    with pytest.raises(Unauthorized) as err:
        verify_customer_token(_sign(_claims(token), key="y" * 64))
    assert _code(err) == "invalid_token"


@pytest.mark.parametrize(
    "change",
    [{"aud": "kefu-staff"}, {"iss": "someone-else"}],
    ids=["wrong-audience", "wrong-issuer"],
)
def test_a_customer_token_for_another_audience_or_issuer_is_invalid(kefu_env, change):
    token, _ = issue_customer_token(CUSTOMER)
    with pytest.raises(Unauthorized) as err:
        verify_customer_token(_sign({**_claims(token), **change}))
    assert _code(err) == "invalid_token"


def test_a_customer_token_without_the_customer_claims_is_invalid(kefu_env):
    token, _ = issue_customer_token(CUSTOMER)
    claims = _claims(token)
    del claims["shop"]
    with pytest.raises(Unauthorized) as err:
        verify_customer_token(_sign(claims))
    assert _code(err) == "invalid_token"


def test_garbage_is_not_a_customer_token(kefu_env):
    with pytest.raises(Unauthorized) as err:
        verify_customer_token("not-a-jwt")
    assert _code(err) == "invalid_token"


# --- staff tokens ------------------------------------------------------------------------------


def _cognito_tokens(kefu_env, shop_id, username):
    return boto3.client("cognito-idp").initiate_auth(
        ClientId=kefu_env.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": f"{shop_id}:{username}", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


@pytest.fixture
def staff_pool(kefu_env, monkeypatch):
    serve_moto_jwks(monkeypatch)
    return kefu_env


@pytest.fixture
def alice_tokens(staff_pool):
    kefu_env = staff_pool
    make_shop("shop-a")
    make_staff("shop-a", "alice", "agent", password=PASSWORD, pool_id=kefu_env.user_pool_id)
    return _cognito_tokens(kefu_env, "shop-a", "alice")


def test_a_cognito_access_token_verifies_to_the_staff_member_of_its_shop(kefu_env, alice_tokens):
    actor = verify_staff_token(alice_tokens["AccessToken"])
    assert actor == StaffActor(shop_id="shop-a", username="alice", role="agent")


def test_the_role_comes_from_the_staff_record_not_the_token(kefu_env, alice_tokens):
    StaffMember("shop-a", StaffMember.key("alice")).update(
        actions=[StaffMember.role.set("supervisor")]
    )
    assert verify_staff_token(alice_tokens["AccessToken"]).role == "supervisor"


def test_an_id_token_is_not_accepted_in_place_of_the_access_token(kefu_env, alice_tokens):
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(alice_tokens["IdToken"])
    assert _code(err) == "invalid_token"


def test_a_pool_signed_token_that_is_not_an_access_token_is_rejected(kefu_env, alice_tokens):
    claims = {**_claims(alice_tokens["AccessToken"]), "token_use": "id"}
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(sign_as_pool(claims))
    assert _code(err) == "invalid_token"
    assert "access token" in err.value.message


def test_an_expired_staff_token_is_unauthorized_with_code_token_expired(kefu_env, alice_tokens):
    now = int(time.time())
    claims = {**_claims(alice_tokens["AccessToken"]), "iat": now - 7200, "exp": now - 60}
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(sign_as_pool(claims))
    assert _code(err) == "token_expired"


def test_the_same_claims_signed_by_the_pool_key_verify(kefu_env, alice_tokens):
    """Guards the two tests above: sign_as_pool makes tokens kefu accepts when nothing is wrong."""
    claims = _claims(alice_tokens["AccessToken"])
    assert verify_staff_token(sign_as_pool(claims)).username == "alice"


def test_a_token_of_a_disabled_staff_member_is_forbidden_at_once(kefu_env, alice_tokens):
    StaffMember("shop-a", StaffMember.key("alice")).update(
        actions=[StaffMember.status.set("disabled")]
    )
    with pytest.raises(Forbidden) as err:
        verify_staff_token(alice_tokens["AccessToken"])
    assert _code(err) == "staff_disabled"


def test_a_token_of_a_staff_member_whose_record_was_deleted_is_forbidden(kefu_env, alice_tokens):
    StaffMember("shop-a", StaffMember.key("alice")).delete()
    with pytest.raises(Forbidden) as err:
        verify_staff_token(alice_tokens["AccessToken"])
    assert _code(err) == "staff_not_found"


def test_a_token_issued_to_another_app_client_is_rejected(kefu_env, alice_tokens, monkeypatch):
    from tests.support.aws import reset_kefu_caches

    monkeypatch.setenv("USER_POOL_CLIENT_ID", "some-other-client")
    reset_kefu_caches()
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(alice_tokens["AccessToken"])
    assert _code(err) == "invalid_token"


def test_a_token_whose_username_names_no_shop_is_rejected(kefu_env, staff_pool):
    idp = boto3.client("cognito-idp")
    idp.admin_create_user(
        UserPoolId=kefu_env.user_pool_id, Username="plainuser", MessageAction="SUPPRESS"
    )
    idp.admin_set_user_password(
        UserPoolId=kefu_env.user_pool_id, Username="plainuser", Password=PASSWORD, Permanent=True
    )
    token = idp.initiate_auth(
        ClientId=kefu_env.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "plainuser", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(token)
    assert _code(err) == "invalid_token"


def test_a_customer_token_is_not_a_staff_token(kefu_env, staff_pool):
    token, _ = issue_customer_token(CUSTOMER)
    with pytest.raises(Unauthorized):
        verify_staff_token(token)


# --- permissions -------------------------------------------------------------------------------

EVERY_PERMISSION = {
    p.CONVERSATIONS_READ,
    p.CONVERSATIONS_READ_ALL,
    p.CONVERSATIONS_CLAIM,
    p.CONVERSATIONS_ASSIGN,
    p.CONVERSATIONS_REPLY,
    p.CONVERSATIONS_RESOLVE,
    p.STAFF_READ,
    p.STAFF_MANAGE,
    p.AUDIT_READ,
}


def _grants(role):
    return {perm for perm in EVERY_PERMISSION if p.has_permission(role, perm)}


def test_an_agent_works_conversations_but_cannot_assign_read_all_or_see_staff():
    assert _grants("agent") == {
        p.CONVERSATIONS_READ,
        p.CONVERSATIONS_CLAIM,
        p.CONVERSATIONS_REPLY,
        p.CONVERSATIONS_RESOLVE,
    }


def test_a_supervisor_runs_the_floor_but_cannot_manage_staff():
    assert _grants("supervisor") == EVERY_PERMISSION - {p.STAFF_MANAGE}


def test_the_owner_may_do_everything():
    assert _grants("owner") == EVERY_PERMISSION


def test_an_unknown_role_may_do_nothing():
    assert _grants("admin") == set()


def test_require_names_the_missing_permission_and_refuses_customers():
    p.require(StaffActor("shop-a", "boss", "owner"), p.STAFF_MANAGE)
    with pytest.raises(Forbidden) as err:
        p.require(StaffActor("shop-a", "alice", "agent"), p.CONVERSATIONS_ASSIGN)
    assert err.value.code == "permission_denied"
    assert p.CONVERSATIONS_ASSIGN in err.value.message
    with pytest.raises(Forbidden):
        p.require(CUSTOMER, p.CONVERSATIONS_READ)


def test_a_customer_token_on_a_staff_endpoint_says_so_without_library_internals(kefu_env):
    token, _ = issue_customer_token(CUSTOMER)
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(token)
    assert _code(err) == "invalid_token"
    message = err.value.message
    assert "needs a staff token; a customer token was given" in message
    assert "signing key" not in message and "None" not in message


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256")],
    ids=["garbage", "hs256-without-kid"],
)
def test_other_non_staff_tokens_are_explained_in_the_callers_terms(kefu_env, token):
    with pytest.raises(Unauthorized) as err:
        verify_staff_token(token)
    assert "/v1/staff/login" in err.value.message
    assert "signing key" not in err.value.message and "None" not in err.value.message
