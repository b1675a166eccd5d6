"""Specification: every WebSocket connection is authenticated on $connect (a staff Cognito
access token or a customer's kefu token in ?token=) and scoped to exactly one shop; typing
indicators are relayed between the customer and the conversation's agent only."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import boto3
import pytest
from kefu import realtime
from kefu.auth.actors import CustomerActor
from kefu.auth.customer_tokens import issue_customer_token
from kefu.conversations import service
from kefu.errors import Forbidden, NotFound, Unauthorized
from kefu.storage.connections import Connection

from tests.support.cognito import serve_moto_jwks
from tests.support.factories import customer_says, make_shop, make_staff
from tests.unit.realtime.conftest import connected

PASSWORD = "Kefu-Test-123!"
ROOT = Path(__file__).resolve().parents[3]


def _load_handler():
    spec = importlib.util.spec_from_file_location(
        "kefu_test_realtime_app", ROOT / "functions" / "realtime" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _staff_token(kefu_env, shop_id: str, username: str, role: str = "agent") -> str:
    make_staff(shop_id, username, role, password=PASSWORD, pool_id=kefu_env.user_pool_id)
    return boto3.client("cognito-idp").initiate_auth(
        ClientId=kefu_env.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": f"{shop_id}:{username}", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]


def _customer_token(shop_id: str, customer_id: str = "cus_1") -> str:
    actor = CustomerActor(shop_id, customer_id, "app_user", "u-1", "app")
    return issue_customer_token(actor)[0]


def _event(route: str, connection_id: str = "conn-1", **extra) -> dict:
    return {
        "requestContext": {
            "routeKey": route,
            "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
            "connectionId": connection_id,
            "connectedAt": 1732350000000,
            "stage": "test",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "requestId": "req-1",
        },
        "isBase64Encoded": False,
        **extra,
    }


@pytest.fixture
def shops(kefu_env, monkeypatch):
    serve_moto_jwks(monkeypatch)
    make_shop("shop-a")
    make_shop("shop-b")
    return kefu_env


def test_an_agent_connects_with_their_access_token(shops):
    conn = realtime.connect("c1", {"token": _staff_token(shops, "shop-a", "agent1")})
    stored = Connection.get("c1")
    assert (stored.shop_id, stored.kind, stored.principal, stored.role) == (
        "shop-a",
        "staff",
        "agent1",
        "agent",
    )
    assert stored.subscriber == "shop-a#staff:agent1" and stored.shop_staff == "shop-a#staff"
    # API Gateway drops a connection after 2 h; the item outlives it only by a margin.
    assert 7200 <= stored.expires_at - stored.connected_at // 1000 <= 7200 + 900
    assert conn.connection_id == "c1"


def test_a_customer_connects_with_their_kefu_token(shops):
    realtime.connect("c2", {"token": _customer_token("shop-b", "cus_9"), "shop_id": "shop-b"})
    stored = Connection.get("c2")
    assert (stored.subscriber, stored.kind, stored.shop_staff) == (
        "shop-b#customer:cus_9",
        "customer",
        None,
    )


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "eyJhbGciOiJub25lIn0.e30."])
def test_a_missing_or_bad_token_is_refused_and_nothing_is_stored(shops, token):
    with pytest.raises(Unauthorized):
        realtime.connect("c3", {"token": token} if token is not None else None)
    with pytest.raises(Connection.DoesNotExist):
        Connection.get("c3")


def test_a_token_of_another_shop_is_refused(shops):
    with pytest.raises(Forbidden) as refused:
        realtime.connect(
            "c4", {"token": _staff_token(shops, "shop-b", "agent2"), "shop_id": "shop-a"}
        )
    assert refused.value.code == "wrong_shop"
    with pytest.raises(Forbidden):
        realtime.connect("c5", {"token": _customer_token("shop-b"), "shop_id": "shop-a"})
    for cid in ("c4", "c5"):
        with pytest.raises(Connection.DoesNotExist):
            Connection.get(cid)


def test_the_handler_accepts_refuses_answers_and_forgets(shops):
    handler = _load_handler()
    token = _staff_token(shops, "shop-a", "agent1")
    ok = handler(_event("$connect", queryStringParameters={"token": token}), None)
    assert ok == {"statusCode": 200}
    refused = handler(_event("$connect", "conn-2", queryStringParameters={"token": "x.y.z"}), None)
    assert refused["statusCode"] == 401
    assert json.loads(refused["body"])["error"]["code"] == "invalid_token"
    pong = handler(_event("ping", body=json.dumps({"action": "ping", "echo": 7})), None)
    assert json.loads(pong["body"])["type"] == "pong" and json.loads(pong["body"])["echo"] == 7
    unknown = handler(_event("$default", body="hello"), None)
    assert unknown["statusCode"] == 400
    assert handler(_event("$disconnect"), None) == {"statusCode": 200}
    with pytest.raises(Connection.DoesNotExist):
        Connection.get("conn-1")
    assert handler(_event("$disconnect"), None) == {"statusCode": 200}  # idempotent


def test_typing_is_relayed_between_the_customer_and_the_assigned_agent_only(shops, sockets):
    agent = make_staff("shop-a", "agent1")
    received = customer_says("shop-a", "oOpenId0001", "在吗")
    service.claim(agent, received.conversation_id)
    agent_conn = connected("shop-a", "staff", "agent1")
    customer_conn = connected("shop-a", "customer", received.customer_id)
    other_agent = connected("shop-a", "staff", "agent2")
    frame = {"action": "typing", "conversation_id": received.conversation_id}

    assert realtime.typing(agent_conn, frame) == 1
    [to_customer] = sockets.frames(customer_conn)
    assert to_customer["type"] == "typing" and to_customer["data"]["from"] == "agent"

    assert realtime.typing(customer_conn, {**frame, "typing": False}) == 1
    [to_agent] = sockets.frames(agent_conn)
    assert to_agent["data"] == {
        "conversation_id": received.conversation_id,
        "typing": False,
        "at": to_agent["data"]["at"],
        "from": "customer",
        "customer_id": received.customer_id,
    }
    with pytest.raises(Forbidden):
        realtime.typing(other_agent, frame)  # not theirs, and an agent cannot read all
    assert sockets.frames(other_agent) == []


def test_typing_cannot_reach_into_another_shop_or_another_customers_conversation(shops, sockets):
    received = customer_says("shop-a", "oOpenId0001", "在吗")
    stranger = connected("shop-b", "staff", "agent1", role="owner")
    with pytest.raises(NotFound):
        realtime.typing(stranger, {"conversation_id": received.conversation_id})
    other_customer = connected("shop-a", "customer", "cus_other")
    with pytest.raises(NotFound):
        realtime.typing(other_customer, {"conversation_id": received.conversation_id})
    with pytest.raises(Unauthorized):
        realtime.typing("never-connected", {"conversation_id": received.conversation_id})
    assert sockets.sent == {}
