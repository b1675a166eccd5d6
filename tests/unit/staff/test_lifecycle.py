"""Specification: the staff lifecycle — a duplicate create changes nothing, a password reset is
its own audited operation that forces a new password at the next sign-in, every sign-in
outcome is audited without the password, disabling someone takes them offline, requeues their
conversations in their original place and closes their sockets, and a suspended shop's staff
are refused at sign-in and on every request."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError
from kefu import shops
from kefu.audit import list_audit
from kefu.auth.staff_tokens import verify_staff_token
from kefu.errors import Conflict, Forbidden, Unauthorized
from kefu.staff import NewStaff, StaffChange, create_staff, reset_password, update_staff
from kefu.staff.login import StaffLogin, StaffNewPassword, answer_new_password, staff_login
from kefu.storage.conversations import Conversation
from kefu.storage.shops import PROFILE, ShopProfile
from kefu.storage.workbench import AgentState

from tests.support.factories import make_shop, make_staff
from tests.support.routing import new_conversation, online

PASSWORD = "Kefu-Test-123!"
SHOP = "shop-a"


@pytest.fixture
def owner(kefu_env):
    make_shop(SHOP)
    return make_staff(SHOP, "boss", "owner")


def _login(username="alice", password=PASSWORD, shop=SHOP):
    return staff_login(StaffLogin(shop_id=shop, username=username, password=password))


def _actions(**filters):
    return [r["action"] for r in list_audit(SHOP, **filters)[0]]


# --- creating -------------------------------------------------------------------------------


def test_creating_an_existing_username_leaves_their_password_alone(kefu_env, owner):
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    with pytest.raises(Conflict) as err:
        create_staff(owner, NewStaff(username="alice", role="agent", password="Other-Pass-456!"))
    assert err.value.code == "staff_exists"
    assert _login(password=PASSWORD)["access_token"]  # the old password still works
    with pytest.raises(Unauthorized):
        _login(password="Other-Pass-456!")


@pytest.mark.parametrize(
    "password",
    ["Short-1!", "alllowercase-123!", "ALLUPPERCASE-123!", "NoDigits-here!", "NoSymbol12345"],
)
def test_a_password_below_the_policy_is_refused_with_what_it_lacks(kefu_env, owner, password):
    with pytest.raises(Conflict) as err:
        create_staff(owner, NewStaff(username="alice", role="agent", password=password))
    assert err.value.code == "weak_password"


def test_an_account_created_without_a_password_gets_a_temporary_one_to_change(kefu_env, owner):
    created = create_staff(owner, NewStaff(username="alice", role="agent"))
    temporary = created["temporary_password"]
    challenge = _login(password=temporary)
    assert challenge["challenge"] == "new_password_required"
    assert challenge["respond_at"] == "/v1/staff/login/new-password"


# --- password reset ---------------------------------------------------------------------------


def test_a_password_reset_issues_a_temporary_password_that_must_be_changed(kefu_env, owner):
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    old_refresh = _login()["refresh_token"]

    reset = reset_password(owner, "alice", request_id="req-9")

    assert reset["must_change_at_next_sign_in"] is True
    with pytest.raises(Unauthorized):
        _login(password=PASSWORD)  # the old password is gone
    # Signed out everywhere: the old refresh token no longer works.
    with pytest.raises(ClientError):
        boto3.client("cognito-idp").initiate_auth(
            ClientId=kefu_env.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": old_refresh},
        )
    challenge = _login(password=reset["temporary_password"])
    assert (challenge["challenge"], "access_token" in challenge) == ("new_password_required", False)
    with pytest.raises(Conflict):  # the new one must meet the policy too
        answer_new_password(
            StaffNewPassword(SHOP, "alice", challenge["session"], new_password="weak")
        )
    session = answer_new_password(
        StaffNewPassword(SHOP, "alice", challenge["session"], new_password="Brand-New-Pass-7")
    )
    assert verify_staff_token(session["access_token"]).username == "alice"
    assert _login(password="Brand-New-Pass-7")["access_token"]
    [record] = list_audit(SHOP, action="staff.password_reset")[0]
    assert (record["actor"], record["target_id"], record["request_id"]) == (
        "staff:boss",
        "alice",
        "req-9",
    )
    assert reset["temporary_password"] not in str(list_audit(SHOP, limit=100)[0])


def test_supervisors_reset_agents_only_and_nobody_resets_their_own(kefu_env, owner):
    sup = make_staff(SHOP, "sup", "supervisor")
    agent = make_staff(SHOP, "ag", "agent")
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    create_staff(owner, NewStaff(username="bob", role="supervisor", password=PASSWORD))
    assert reset_password(sup, "alice")["temporary_password"]
    for actor, target in ((sup, "bob"), (sup, "boss"), (agent, "alice"), (owner, "boss")):
        with pytest.raises(Forbidden):
            reset_password(actor, target)
    assert _actions(action="staff.password_reset") == ["staff.password_reset"]


# --- sign-in audit -----------------------------------------------------------------------------


def test_sign_ins_and_failures_are_audited_without_the_password(kefu_env, owner):
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    _login()
    with pytest.raises(Unauthorized):
        _login(password="Wrong-Password-1!")
    with pytest.raises(Unauthorized):
        _login(username="nobody")

    failed = list_audit(SHOP, action="staff.login_failed")[0]
    assert {(r["target_id"], r["after"]["reason"]) for r in failed} == {
        ("alice", "bad_credentials"),
        ("nobody", "bad_credentials"),
    }
    [ok] = list_audit(SHOP, action="staff.login")[0]
    assert (ok["actor"], ok["actor_role"], ok["after"]) == (
        "staff:alice",
        "agent",
        {"method": "password"},
    )
    everything = str(list_audit(SHOP, limit=100)[0])
    assert PASSWORD not in everything and "Wrong-Password-1!" not in everything


# --- shop status -------------------------------------------------------------------------------


def _suspend(shop_id):
    ShopProfile(shop_id, PROFILE).update(actions=[ShopProfile.status.set("suspended")])


def test_a_suspended_shops_staff_cannot_sign_in_or_use_their_tokens(kefu_env, owner):
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    token = _login()["access_token"]
    assert verify_staff_token(token).username == "alice"

    _suspend(SHOP)
    shops.clear_cache()  # what STATUS_TTL_SECONDS does in production, without the wait

    with pytest.raises(Forbidden) as err:
        verify_staff_token(token)
    assert err.value.code == "shop_suspended"
    with pytest.raises(Forbidden) as err:
        _login()
    assert err.value.code == "shop_suspended"
    assert list_audit(SHOP, action="staff.login_failed")[0][0]["after"] == {
        "reason": "shop_suspended"
    }


def test_the_shop_status_is_cached_for_seconds_not_minutes(kefu_env, owner, monkeypatch):
    create_staff(owner, NewStaff(username="alice", role="agent", password=PASSWORD))
    token = _login()["access_token"]
    verify_staff_token(token)  # caches "active"
    _suspend(SHOP)
    clock = [time.monotonic()]
    monkeypatch.setattr(shops.time, "monotonic", lambda: clock[0])
    clock[0] += shops.STATUS_TTL_SECONDS + 0.1
    assert shops.STATUS_TTL_SECONDS <= 10
    with pytest.raises(Forbidden):
        verify_staff_token(token)


# --- disabling -----------------------------------------------------------------------------


class _Sockets:
    """The Management API's DeleteConnection, as the staff function calls it."""

    def __init__(self):
        self.closed = []

    def delete_connection(self, ConnectionId):
        self.closed.append(ConnectionId)
        return {}


@pytest.fixture
def sockets(kefu_env):
    from kefu.realtime import push

    # Restored before kefu_env's teardown (which clears the real client's cache).
    fake, original = _Sockets(), push.management_api
    push.management_api = lambda: fake
    yield fake
    push.management_api = original


def test_disabling_an_agent_takes_them_offline_requeues_in_place_and_closes_sockets(
    kefu_env, owner, sockets
):
    from tests.unit.realtime.conftest import connected

    online(SHOP, "alice", capacity=5)
    first = new_conversation(SHOP, "o-1", at=1_700_000_000_000)
    second = new_conversation(SHOP, "o-2", at=1_700_000_001_000)
    queued_at = {c: Conversation.get(SHOP, c).queued_at for c in (first, second)}
    assert {Conversation.get(SHOP, c).assignee for c in (first, second)} == {"alice"}
    socket = connected(SHOP, "staff", "alice")

    after = update_staff(owner, "alice", StaffChange(status="disabled"), request_id="req-1")

    state = AgentState.get(SHOP, AgentState.key("alice"), consistent_read=True)
    assert (state.status, state.active) == ("offline", 0)
    for cid in (first, second):
        conv = Conversation.get(SHOP, cid, consistent_read=True)
        assert (conv.status, conv.assignee, conv.queued_at) == ("queued", None, queued_at[cid])
    # Each keeps its place: the waiting line is ordered by the original queued_at.
    waiting = [c.conversation_id for c in Conversation.waiting.query(f"{SHOP}#default")]
    assert waiting == [first, second]
    assert sockets.closed == [socket]
    assert sorted(after["offboarding"]["requeued"]) == sorted([first, second])
    requeued = list_audit(SHOP, action="conversation.requeued")[0]
    assert {r["target_id"] for r in requeued} == {first, second}
    assert {r["request_id"] for r in requeued} == {"req-1"}
    assert _actions(action="agent.forced_offline") == ["agent.forced_offline"]
    assert _actions(action="staff.disabled") == ["staff.disabled"]
    transferred = kefu_env.events("conversation.transferred")
    assert {e["data"]["conversation_id"] for e in transferred} == {first, second}
    assert {e["data"]["from_agent"] for e in transferred} == {"alice"}


def test_disabling_again_finishes_what_a_failed_disable_left(kefu_env, owner, sockets):
    online(SHOP, "alice", capacity=5)
    cid = new_conversation(SHOP, "o-1")
    # As if the instance died right after the staff record was disabled:
    from kefu.storage.shops import StaffMember

    StaffMember(SHOP, StaffMember.key("alice")).update(actions=[StaffMember.status.set("disabled")])
    assert Conversation.get(SHOP, cid).assignee == "alice"

    update_staff(owner, "alice", StaffChange(status="disabled"))

    assert Conversation.get(SHOP, cid, consistent_read=True).status == "queued"
    assert AgentState.get(SHOP, AgentState.key("alice")).status == "offline"
