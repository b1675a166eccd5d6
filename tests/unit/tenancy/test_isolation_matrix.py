"""Specification: tenant isolation, over every operation of docs/openapi.yaml (a new endpoint is
covered as soon as it is documented) × caller (a seller's owner, supervisor and agent, the mall's
platform staff, a seller's customer) × target (the caller's own shop, a shop outside the mall,
another seller of the same mall, the mall's operator).

The world: the mall "mall-m" whose operator is the shop "mall-m" (platform staff "ops"), two
sellers in it ("seller-a", "seller-b") and a stand-alone shop ("shop-z"). Each shop holds a
customer, a conversation, a ticket, a knowledge-base entry, a keyword rule, a quick reply, a
queue, a tag group, a tag, an auto-tag rule and a job, each carrying the shop's marker text,
so that any of its data in an answer is seen.

A foreign target is reached two ways: naming its shop (X-Kefu-Shop, how platform staff pick the
shop they act on) and using its ids in the path and query. In every cell: no 5xx, a status and
body docs/openapi.yaml documents (the gateway checks both), and no marker of a shop the caller
may not see. Besides:
- a seller's staff naming another shop: 403 `not_platform_staff`;
- platform staff naming a shop outside their mall: 403 `shop_not_in_mall`; naming a seller of
  their mall: never 401, and the oversight reads answer 200 with that seller's data;
- another shop's ids (no X-Kefu-Shop): 403 or 404, never 2xx;
- the caller's own shop, owner, reads by id: 200 (so that the refusals above are about tenancy).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.factories import make_shop

ROOT = Path(__file__).resolve().parents[3]
MALL = "mall-m"
SELLER_A, SELLER_B, OUTSIDER = "seller-a", "seller-b", "shop-z"
SHOPS = {MALL: MALL, SELLER_A: MALL, SELLER_B: MALL, OUTSIDER: None}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Path parameters that name a shop's resource (the rest are view names, versions, keys).
RESOURCE_PARAMS = {
    "conversation_id",
    "ticket_id",
    "entry_id",
    "rule_id",
    "quick_reply_id",
    "queue_id",
    "username",
    "message_id",
    "customer_id",
    "group_id",
    "tag_id",
    "tag_rule_id",
    "job_id",
    "segment_id",
    "attribute_id",
}
# Reads platform staff are for: oversight of a seller of their mall.
OVERSIGHT_READS = {
    ("get", "/v1/conversations"),
    ("get", "/v1/conversations/{conversation_id}"),
    ("get", "/v1/conversations/{conversation_id}/messages"),
    ("get", "/v1/workbench/conversations/{conversation_id}"),
    ("get", "/v1/tickets"),
    ("get", "/v1/tickets/{ticket_id}"),
    ("get", "/v1/knowledge/entries"),
}
# Write-shaped requests platform staff may make on a seller: they change none of its data.
PLATFORM_HARMLESS_WRITES = {
    ("post", "/v1/staff/media/uploads"),  # an upload URL for a reply they cannot send
    ("post", "/v1/notifications/read"),  # their own inbox
    ("post", "/v1/bot/keyword-rules/test"),  # a dry run of the seller's rules
    ("post", "/v1/staff/logout"),  # their own session
    ("post", "/v1/knowledge/try"),  # a dry run of the seller's bot: writes nothing
}
# Reads whose `job_id` must name a job of one kind (an import, an export) that the world does
# not seed: the owner's own read is a 404 there; every cross-shop cell is still checked.
OWN_READ_OF_ANOTHER_KIND = {
    ("get", "/v1/customers/imports/{job_id}"),
    ("get", "/v1/customers/imports/{job_id}/errors"),
    ("get", "/v1/customers/exports/{job_id}"),
}
# Callers: (name, home shop, role); "customer" is a customer of seller-a.
CALLERS = [
    ("owner", SELLER_A, "owner"),
    ("supervisor", SELLER_A, "supervisor"),
    ("agent", SELLER_A, "agent"),
    ("platform", MALL, "platform"),
    ("customer", SELLER_A, None),
]
TARGETS = ("own", "other_shop", "same_mall_seller", "platform")


def marker(shop_id: str) -> str:
    return f"MARK{shop_id.replace('-', '')}X"


@cache
def _doc() -> dict[str, Any]:
    return yaml.load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"), yaml.CSafeLoader)


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = _doc()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations() -> list[tuple[str, str]]:
    """Every documented operation, deletes last: the world is shared by the module, and an
    owner's delete on their own shop must not take away what a later read of it needs."""
    found = [
        (method, path)
        for path, item in _doc()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]
    return sorted(found, key=lambda op: op[0] == "delete")


def _op(method: str, path: str) -> dict[str, Any]:
    return _doc()["paths"][path][method]


def _schemes(method: str, path: str) -> set[str]:
    return {name for req in _op(method, path).get("security", []) for name in req}


def _parameters(method: str, path: str) -> list[dict[str, Any]]:
    item = _doc()["paths"][path]
    return [
        _resolve(p) for p in [*item.get("parameters", []), *_op(method, path).get("parameters", [])]
    ]


def _example_value(param: dict[str, Any]) -> str | None:
    schema = _resolve(param.get("schema") or {})
    for value in (param.get("example"), schema.get("example"), *(schema.get("enum") or [])[:1]):
        if value is not None:
            return str(value)
    return None


def _example_body(method: str, path: str) -> Any:
    body = _op(method, path).get("requestBody")
    if not body:
        return None
    content = _resolve(body).get("content", {}).get("application/json")
    if content is None:
        return None
    if "example" in content:
        return copy.deepcopy(content["example"])
    examples = content.get("examples") or {}
    for example in examples.values():
        return copy.deepcopy(_resolve(example).get("value"))
    return None


# ------------------------------------------------------------------------------------ world


class World:
    def __init__(self, gateway: Any, staff_token: Any) -> None:
        self.gw = gateway
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, dict[str, str]] = {}
        for shop_id, mall in SHOPS.items():
            make_shop(shop_id, mall_id=mall)
        for name, home, role in CALLERS:
            if role is not None:
                self.tokens[name] = staff_token(home, _username(name, home), role)
        owners = {
            shop: self.tokens["owner"]
            if shop == SELLER_A
            else staff_token(shop, _username("owner", shop), "owner")
            for shop in SHOPS
        }
        for shop_id, token in owners.items():
            self.ids[shop_id] = self._seed(shop_id, token)
        self.tokens["customer"] = self.ids[SELLER_A]["customer_token"]

    def _seed(self, shop_id: str, token: str) -> dict[str, str]:
        gw, mark = self.gw, marker(shop_id)
        agent = _username("agent", shop_id)
        if shop_id != SELLER_A:  # seller-a's agent is a caller, already made
            from tests.support.factories import make_staff

            make_staff(shop_id, agent, "agent")
        login = gw.app_login(shop_id, f"cust-{shop_id}", display_name=mark)
        assert login.status == 200, login.text
        customer = login.json()
        said = gw.post(
            "/v1/messages",
            token=customer["token"],
            json_body={"type": "text", "text": f"订单 {mark}", "client_message_id": "c-1"},
        )
        assert said.status in (200, 201), said.text
        conversation_id = said.json()["conversation_id"]

        def made(path: str, body: dict[str, Any], key: str) -> str:
            answer = gw.post(path, token=token, json_body=body)
            assert answer.status == 201, (path, answer.text)
            return str(answer.json()[key])

        ticket_body = {**_example_body("post", "/v1/tickets"), "subject": mark}
        ticket_body["customer_id"] = customer["customer_id"]
        entry_body = {**_example_body("post", "/v1/knowledge/entries"), "question": mark}
        rule_body = {**_example_body("post", "/v1/bot/keyword-rules"), "name": mark}
        reply_body = {**_example_body("post", "/v1/quick-replies"), "title": mark, "text": mark}
        queue_body = {**_example_body("post", "/v1/queues"), "name": mark, "members": [agent]}
        group_id = made("/v1/tag-groups", {"name": mark}, "group_id")
        tag_id = made("/v1/tags", {"name": mark, "group_id": group_id}, "tag_id")
        tag_rule = {"name": mark, "trigger": {"kind": "keyword", "keywords": [mark]}}
        tag_rule_id = made("/v1/tag-rules", {**tag_rule, "tag_ids": [tag_id]}, "rule_id")
        job = gw.post(
            "/v1/jobs",
            token=token,
            json_body={
                "kind": "tag",
                "selection": {"customer_ids": [customer["customer_id"]]},
                "params": {"tag_ids": [tag_id]},
            },
        )
        assert job.status == 202, job.text
        segment = {"name": mark, "filter": {"tag": {"in": [tag_id]}}}
        attribute = {
            "attribute_id": f"attr_{shop_id.replace('-', '_')}",
            "name": mark,
            "type": "text",
        }
        return {
            "shop_id": shop_id,
            "customer_token": customer["token"],
            "customer_id": customer["customer_id"],
            "conversation_id": conversation_id,
            "message_id": said.json()["message"]["message_id"],
            "ticket_id": made("/v1/tickets", ticket_body, "ticket_id"),
            "entry_id": made("/v1/knowledge/entries", entry_body, "entry_id"),
            "rule_id": made("/v1/bot/keyword-rules", rule_body, "rule_id"),
            "quick_reply_id": made("/v1/quick-replies", reply_body, "quick_reply_id"),
            "queue_id": made("/v1/queues", queue_body, "queue_id"),
            "username": agent,
            "group_id": group_id,
            "tag_id": tag_id,
            "tag_rule_id": tag_rule_id,
            "job_id": job.json()["job_id"],
            "segment_id": made("/v1/segments", segment, "segment_id"),
            "attribute_id": made("/v1/customer-attributes", attribute, "attribute_id"),
        }

    def target_shop(self, caller: str, target: str) -> str:
        home = dict((n, h) for n, h, _ in CALLERS)[caller]
        if target == "own":
            return home
        if target == "other_shop":
            return OUTSIDER
        if target == "same_mall_seller":
            return SELLER_B if home == SELLER_A else SELLER_A
        return MALL

    def request(self, method: str, path: str, caller: str, shop_id: str, *, header: bool):
        ids = self.ids[shop_id]
        values = {"view": "all", "key": "nokey", "revision": "1", "version": "1", **ids}
        url = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)
        query = {}
        for param in _parameters(method, path):
            if param.get("in") != "query":
                continue
            if param["name"] in ids:
                query[param["name"]] = ids[param["name"]]
            elif param.get("required"):
                query[param["name"]] = _example_value(param)
        if "customer_id" in query and any(p.get("name") == "q" for p in _parameters(method, path)):
            query["q"] = "订单"  # history search: words of the customer's message
        headers = {"X-Kefu-Shop": shop_id} if header else {}
        return self.gw.request(
            method.upper(),
            url,
            token=self.tokens[caller],
            json_body=_example_body(method, path),
            query=query,
            headers=headers,
        )


def _username(name: str, shop_id: str) -> str:
    return {"owner": "boss", "supervisor": "lead", "agent": "agent", "platform": "ops"}[
        name
    ] + f"-{shop_id}"


def _visible(caller: str, acting_on: str | None) -> set[str]:
    """The shops whose data the caller may see in this request."""
    home = dict((n, h) for n, h, _ in CALLERS)[caller]
    if caller == "platform" and acting_on is not None and SHOPS.get(acting_on) == MALL:
        return {home, acting_on}
    return {home}


def _assert_no_leak(answer: Any, visible: set[str], cell: str) -> None:
    for shop_id in SHOPS:
        if shop_id not in visible:
            assert marker(shop_id) not in answer.text, f"{cell}: {shop_id}'s data leaked"


@pytest.fixture(scope="module")
def world():
    """One world for the whole matrix (building it per operation would take minutes): the
    fake AWS of tests/support/aws.py's kefu_env, held for the module."""
    import jwt
    from moto.utilities.utils import load_resource

    from tests.support.aws import kefu_env
    from tests.support.factories import make_staff
    from tests.unit.functions.conftest import STAFF_PASSWORD, Gateway

    with pytest.MonkeyPatch.context() as mp:
        env_gen = kefu_env.__wrapped__(mp)
        env = next(env_gen)
        jwks = load_resource("cognitoidp/resources/jwks-public.json")
        mp.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
        import boto3

        jobs_queue = boto3.client("sqs").create_queue(QueueName="isolation-jobs")["QueueUrl"]
        mp.setenv("JOBS_QUEUE_URL", jobs_queue)
        gateway = Gateway()

        def staff_token(shop_id: str, username: str, role: str) -> str:
            make_staff(shop_id, username, role, password=STAFF_PASSWORD, pool_id=env.user_pool_id)
            answer = gateway.staff_login(shop_id, username)
            assert answer.status == 200, answer.text
            return answer.json()["access_token"]

        yield World(gateway, staff_token)
        next(env_gen, None)


# ----------------------------------------------------------------------------------- matrix


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: str(v))
def test_isolation(world, method, path):
    schemes = _schemes(method, path)
    has_ids = bool(set(re.findall(r"{(\w+)}", path)) & RESOURCE_PARAMS)
    own_cells = []
    for caller, home, role in CALLERS:
        for target in TARGETS:
            shop_id = world.target_shop(caller, target)
            if shop_id == home:
                own_cells.append((caller, shop_id))  # last: they may change the world
                continue
            cell = f"{method.upper()} {path} as {caller} on {target} ({shop_id})"
            # 1) Another shop's ids, in the caller's own shop.
            answer = world.request(method, path, caller, shop_id, header=False)
            _assert_no_leak(answer, {home}, cell + " by ids")
            if has_ids and schemes & {"staffToken", "customerToken"}:
                # (400: the request is refused for its content before any shop's data is read.)
                assert answer.status in (400, 401, 403, 404), (cell, answer.status, answer.text)
            # 2) Naming the shop (staff only: a customer token names its shop itself).
            if role is None or "staffToken" not in schemes:
                continue
            answer = world.request(method, path, caller, shop_id, header=True)
            _assert_no_leak(answer, _visible(caller, shop_id), cell + " by X-Kefu-Shop")
            if role != "platform":
                assert (answer.status, answer.error["code"]) == (403, "not_platform_staff"), cell
            elif SHOPS[shop_id] != MALL:
                assert (answer.status, answer.error["code"]) == (403, "shop_not_in_mall"), cell
            else:
                assert answer.status != 401, (cell, answer.text)
                if (method, path) in OVERSIGHT_READS:
                    assert answer.status == 200, (cell, answer.text)
                    theirs = [marker(shop_id), *world.ids[shop_id].values()]
                    assert any(value in answer.text for value in theirs), cell
                elif method != "get" and (method, path) not in PLATFORM_HARMLESS_WRITES:
                    # Oversight only: platform staff never change a seller's data.
                    assert answer.status >= 400, (cell, answer.status, answer.text)
    for caller, shop_id in own_cells:
        cell = f"{method.upper()} {path} as {caller} on own shop"
        answer = world.request(method, path, caller, shop_id, header=False)
        _assert_no_leak(answer, {shop_id}, cell)
        wrong_kind = (caller == "customer") != ("customerToken" in schemes)
        if schemes & {"staffToken", "customerToken"} and wrong_kind:
            assert answer.status == 401, (cell, answer.text)
        elif caller == "owner" and method == "get" and has_ids:
            if (method, path) in OWN_READ_OF_ANOTHER_KIND:
                assert answer.status == 404, (cell, answer.text)
            else:
                assert answer.status == 200, (cell, answer.text)


def test_every_documented_operation_is_in_the_matrix():
    """The matrix is generated from docs/openapi.yaml, and that file lists every route of
    template.yaml (tests/unit/test_openapi.py): so no endpoint escapes it."""
    assert len(_operations()) >= 80
    assert all(_op(m, p).get("security") is not None for m, p in _operations())
