"""Specification: owners manage staff; Cognito holds credentials, staff records hold roles, and
every change is audited in the same transaction."""

import time

import boto3
import pytest
from kefu.audit import list_audit
from kefu.errors import Conflict, Forbidden, NotFound, Unauthorized
from kefu.staff import (
    NewStaff,
    StaffChange,
    StaffLogin,
    create_staff,
    list_staff,
    staff_login,
    update_staff,
)
from kefu.storage.shops import StaffMember

from tests.support.factories import make_shop, make_staff

# Meets the user pool's default policy (upper, lower, digit, symbol).
PASSWORD = "Kefu-Test-123!"


@pytest.fixture
def owner(kefu_env):
    make_shop("shop-a")
    return make_staff("shop-a", "boss", "owner")


def _cognito_user(kefu_env, name):
    return boto3.client("cognito-idp").admin_get_user(
        UserPoolId=kefu_env.user_pool_id, Username=name
    )


def _new(username="alice", role="agent", password=PASSWORD):
    return NewStaff(username=username, role=role, password=password)


def test_owner_creates_a_staff_member_with_a_cognito_user_named_shop_colon_username(
    kefu_env, owner
):
    created = create_staff(owner, _new(), request_id="req-1")

    assert (created["username"], created["role"], created["status"]) == ("alice", "agent", "active")
    assert _cognito_user(kefu_env, "shop-a:alice")["Enabled"] is True
    member = StaffMember.get("shop-a", StaffMember.key("alice"))
    assert (member.role, member.status) == ("agent", "active")


def test_creating_staff_writes_an_audit_record_with_no_before_and_the_new_member_after(
    kefu_env, owner
):
    created = create_staff(owner, _new(), request_id="req-1")

    records, _ = list_audit("shop-a")
    assert len(records) == 1
    record = records[0]
    assert record["action"] == "staff.created"
    assert (record["actor"], record["actor_role"]) == ("staff:boss", "owner")
    assert (record["target_type"], record["target_id"]) == ("staff", "alice")
    assert record["before"] is None
    assert record["after"] == created
    assert record["request_id"] == "req-1"


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_only_the_owner_may_create_staff(kefu_env, role):
    make_shop("shop-a")
    actor = make_staff("shop-a", "someone", role)
    with pytest.raises(Forbidden) as err:
        create_staff(actor, _new())
    assert err.value.code == "permission_denied"
    with pytest.raises(StaffMember.DoesNotExist):
        StaffMember.get("shop-a", StaffMember.key("alice"))
    assert list_audit("shop-a")[0] == []


def test_creating_an_existing_username_is_a_conflict_and_is_not_audited_twice(kefu_env, owner):
    create_staff(owner, _new())
    with pytest.raises(Conflict) as err:
        create_staff(owner, _new(role="supervisor"))
    assert err.value.code == "staff_exists"
    assert StaffMember.get("shop-a", StaffMember.key("alice")).role == "agent"
    assert [r["action"] for r in list_audit("shop-a")[0]] == ["staff.created"]


def test_a_short_password_is_refused_before_anything_is_created(kefu_env, owner):
    with pytest.raises(Conflict) as err:
        create_staff(owner, _new(password="short"))
    assert err.value.code == "weak_password"
    with pytest.raises(StaffMember.DoesNotExist):
        StaffMember.get("shop-a", StaffMember.key("alice"))


def test_changing_a_role_records_before_and_after_in_the_audit_newest_first(kefu_env, owner):
    create_staff(owner, _new())
    time.sleep(0.002)  # audit records sort by millisecond
    after = update_staff(owner, "alice", StaffChange(role="supervisor"))

    assert after["role"] == "supervisor"
    assert StaffMember.get("shop-a", StaffMember.key("alice")).role == "supervisor"
    records, _ = list_audit("shop-a")
    # A role change is its own action, so the trail can be filtered for role changes.
    assert [r["action"] for r in records] == ["staff.role_changed", "staff.created"]
    update = records[0]
    assert update["before"]["role"] == "agent"
    assert update["after"]["role"] == "supervisor"
    assert update["after"]["updated_at"] >= update["before"]["updated_at"]


def test_the_audit_can_be_read_for_one_target_only(kefu_env, owner):
    create_staff(owner, _new("alice"))
    create_staff(owner, _new("bob"))
    time.sleep(0.002)
    update_staff(owner, "alice", StaffChange(display_name="Alice 王"))

    records, _ = list_audit("shop-a", target=("staff", "alice"))
    assert [r["action"] for r in records] == ["staff.updated", "staff.created"]
    assert {r["target_id"] for r in records} == {"alice"}
    assert len(list_audit("shop-a")[0]) == 3


def test_an_update_that_changes_nothing_writes_no_audit_record(kefu_env, owner):
    create_staff(owner, _new())
    unchanged = update_staff(owner, "alice", StaffChange(role="agent"))
    assert unchanged["role"] == "agent"
    assert len(list_audit("shop-a")[0]) == 1


def test_an_update_racing_another_change_is_a_conflict_and_not_audited(
    kefu_env, owner, monkeypatch
):
    import kefu.staff as staff

    create_staff(owner, _new())
    real = staff.get_staff

    def read_then_race(shop_id, username):
        member = real(shop_id, username)
        StaffMember(shop_id, StaffMember.key(username)).update(
            actions=[StaffMember.updated_at.set(member.updated_at + 1)]
        )
        return member

    monkeypatch.setattr(staff, "get_staff", read_then_race)
    with pytest.raises(Conflict) as err:
        update_staff(owner, "alice", StaffChange(role="supervisor"))
    assert err.value.code == "stale"
    assert StaffMember.get("shop-a", StaffMember.key("alice")).role == "agent"
    assert [r["action"] for r in list_audit("shop-a")[0]] == ["staff.created"]


def test_the_owner_cannot_change_their_own_role_or_disable_themself(kefu_env, owner):
    with pytest.raises(Forbidden) as err:
        update_staff(owner, "boss", StaffChange(role="agent"))
    assert err.value.code == "self_change"
    with pytest.raises(Forbidden):
        update_staff(owner, "boss", StaffChange(status="disabled"))
    assert StaffMember.get("shop-a", StaffMember.key("boss")).role == "owner"
    assert list_audit("shop-a")[0] == []


def test_updating_an_unknown_staff_member_is_not_found(kefu_env, owner):
    with pytest.raises(NotFound):
        update_staff(owner, "ghost", StaffChange(role="agent"))


def test_a_supervisor_cannot_change_roles(kefu_env, owner):
    create_staff(owner, _new())
    supervisor = make_staff("shop-a", "sup", "supervisor")
    with pytest.raises(Forbidden):
        update_staff(supervisor, "alice", StaffChange(role="owner"))


def test_disabling_staff_disables_the_cognito_user_and_blocks_login(kefu_env, owner):
    create_staff(owner, _new())
    assert staff_login(StaffLogin(shop_id="shop-a", username="alice", password=PASSWORD))

    update_staff(owner, "alice", StaffChange(status="disabled"))

    assert _cognito_user(kefu_env, "shop-a:alice")["Enabled"] is False
    assert StaffMember.get("shop-a", StaffMember.key("alice")).status == "disabled"
    # Cognito refuses a disabled user before kefu sees the staff record, so this is the same
    # answer as a wrong password: nothing tells a caller which accounts exist.
    with pytest.raises(Unauthorized):
        staff_login(StaffLogin(shop_id="shop-a", username="alice", password=PASSWORD))


def test_login_is_forbidden_when_the_staff_record_is_disabled_even_if_cognito_is_not(
    kefu_env, owner
):
    create_staff(owner, _new())
    StaffMember("shop-a", StaffMember.key("alice")).update(
        actions=[StaffMember.status.set("disabled")]
    )
    with pytest.raises(Forbidden) as err:
        staff_login(StaffLogin(shop_id="shop-a", username="alice", password=PASSWORD))
    assert err.value.code == "staff_disabled"


def test_re_enabling_staff_enables_the_cognito_user_again(kefu_env, owner):
    create_staff(owner, _new())
    update_staff(owner, "alice", StaffChange(status="disabled"))
    update_staff(owner, "alice", StaffChange(status="active"))
    assert _cognito_user(kefu_env, "shop-a:alice")["Enabled"] is True
    assert staff_login(StaffLogin(shop_id="shop-a", username="alice", password=PASSWORD))


def test_login_with_the_right_password_returns_cognito_tokens_and_the_staff_record(kefu_env, owner):
    create_staff(owner, _new(role="supervisor"))
    result = staff_login(StaffLogin(shop_id="shop-a", username="alice", password=PASSWORD))
    assert result["access_token"] and result["id_token"] and result["refresh_token"]
    assert result["token_type"] == "Bearer"
    assert result["shop_id"] == "shop-a"
    assert (result["staff"]["username"], result["staff"]["role"]) == ("alice", "supervisor")


@pytest.mark.parametrize(
    "shop_id, username, password",
    [
        ("shop-a", "alice", "wrong-password-1"),
        ("shop-a", "nobody", PASSWORD),
        ("shop-b", "alice", PASSWORD),  # the same username in another shop is another user
    ],
    ids=["wrong-password", "unknown-user", "other-shop"],
)
def test_login_with_bad_credentials_is_unauthorized(kefu_env, owner, shop_id, username, password):
    create_staff(owner, _new())
    with pytest.raises(Unauthorized) as err:
        staff_login(StaffLogin(shop_id=shop_id, username=username, password=password))
    assert err.value.code == "bad_credentials"


def test_staff_are_listed_page_by_page_with_a_cursor(kefu_env, owner):
    for name in ("alice", "bob", "carol"):
        make_staff("shop-a", name)
    make_staff("shop-b", "dave")  # another shop's staff never appear

    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = list_staff(owner, limit=2, cursor=cursor)
        assert len(page) <= 2
        seen += [m["username"] for m in page]
        pages += 1
        if cursor is None:
            break
    assert seen == ["alice", "bob", "boss", "carol"]
    assert pages >= 2


def test_agents_cannot_list_staff_but_supervisors_can(kefu_env, owner):
    agent = make_staff("shop-a", "alice", "agent")
    supervisor = make_staff("shop-a", "sup", "supervisor")
    with pytest.raises(Forbidden):
        list_staff(agent, limit=10, cursor=None)
    names = [m["username"] for m in list_staff(supervisor, limit=10, cursor=None)[0]]
    assert names == ["alice", "boss", "sup"]
