"""Specification, against the local stack: the staff lifecycle end to end — the owner adds an
agent who signs in and connects a WebSocket; disabling them closes the socket (the Management
API's DELETE) and refuses their token at once; a password reset forces a new password; every
step is in the audit trail."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from infra.local.stack import LocalStack
from tests.integration.kefu_http import Api, unique

pytestmark = pytest.mark.integration

PASSWORD = "Integration-Pass-1"


def test_disabling_an_agent_closes_their_socket_and_refuses_their_token(
    stack: LocalStack, api: Api, owner: str
):
    username = unique("gone").lower().replace("_", "-")[:30]
    created = api.post(
        "/v1/staff", owner, json={"username": username, "role": "agent", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    token = api.staff_login("demo", username, password=PASSWORD)
    with connect(f"{stack.urls['websocket']}?token={token}", open_timeout=10) as ws:
        disabled = api.patch(f"/v1/staff/{username}", owner, json={"status": "disabled"})
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["offboarding"]["connections_closed"] == 1
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    refused = api.get("/v1/staff/me", token)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "staff_disabled")
    audit = api.get(f"/v1/audit?target_type=staff&target_id={username}", owner).json()["audit"]
    assert [a["action"] for a in audit] == ["staff.disabled", "staff.login", "staff.created"]


def test_a_password_reset_forces_a_new_password_at_the_next_sign_in(api: Api, owner: str):
    username = unique("reset").lower().replace("_", "-")[:30]
    api.post("/v1/staff", owner, json={"username": username, "role": "agent", "password": PASSWORD})
    reset = api.post(f"/v1/staff/{username}/password-reset", owner)
    assert reset.status_code == 200, reset.text
    challenge = api.post(
        "/v1/staff/login",
        json={
            "shop_id": "demo",
            "username": username,
            "password": reset.json()["temporary_password"],
        },
    ).json()
    assert challenge["challenge"] == "new_password_required"
    done = api.post(
        "/v1/staff/login/new-password",
        json={
            "shop_id": "demo",
            "username": username,
            "session": challenge["session"],
            "new_password": "Another-Pass-22",
        },
    )
    assert done.status_code == 200, done.text
    assert api.get("/v1/staff/me", done.json()["access_token"]).json()["username"] == username
