"""Specification: the customers function over HTTP — profiles are read masked, revealed only to
roles that may see them (and audited first), edited with validation, searched within the
caller's shop; bad input is a documented 4xx."""

import pytest

from tests.support.factories import make_shop


@pytest.fixture
def shops(kefu_env, gateway):
    make_shop("shop-a")
    make_shop("shop-b")
    customer = gateway.app_login("shop-a", "alice", display_name="Alice").json()["customer_id"]
    return {"alice": customer}


def test_an_agent_edits_a_profile_and_sees_it_masked_a_supervisor_reveals_it(
    gateway, staff_token, shops
):
    agent = staff_token("shop-a", "amy", "agent")
    sup = staff_token("shop-a", "sue", "supervisor")
    url = f"/v1/customers/{shops['alice']}"

    edited = gateway.patch(
        url,
        token=agent,
        json_body={"phones": ["138 1234 5678"], "real_name": "王爱丽", "remarks": "VIP"},
    )
    assert edited.status == 200, edited.text
    assert edited.json()["phones"] == ["138****5678"] and edited.json()["remarks"] == "VIP"

    assert gateway.get(url, token=agent, query={"reveal": "true"}).status == 403
    revealed = gateway.get(url, token=sup, query={"reveal": "true"})
    assert revealed.status == 200
    assert revealed.json()["phones"] == ["13812345678"] and revealed.json()["real_name"] == "王爱丽"
    audit = gateway.get(
        "/v1/audit",
        token=sup,
        query={"target_type": "customer", "target_id": shops["alice"]},
    ).json()
    assert "customer.personal_viewed" in [r["action"] for r in audit["audit"]]

    found = gateway.get("/v1/customers", token=agent, query={"q": "13812345678"})
    assert [c["customer_id"] for c in found.json()["customers"]] == [shops["alice"]]
    assert (
        gateway.get("/v1/customers", token=agent).json()["customers"][0]["contact"] == "138****5678"
    )


@pytest.mark.parametrize(
    "body, code",
    [
        ({"attributes": {"colour": "red"}}, "unknown_attribute"),
        ({"phones": ["call me"]}, "invalid_phone"),
        ({"gender": "robot"}, "validation_error"),
        ({"remarks": "x" * 1001}, "validation_error"),
        ({"nickname": "x"}, "validation_error"),
        ({}, "empty_change"),
    ],
)
def test_bad_edits_are_a_400_naming_the_problem(gateway, staff_token, shops, body, code):
    agent = staff_token("shop-a", "amy", "agent")
    answer = gateway.patch(f"/v1/customers/{shops['alice']}", token=agent, json_body=body)
    assert answer.status == 400 and answer.error["code"] == code


def test_an_oversize_body_is_a_413(gateway, staff_token, shops):
    agent = staff_token("shop-a", "amy", "agent")
    answer = gateway.patch(
        f"/v1/customers/{shops['alice']}", token=agent, json_body={"remarks": "x" * 70_000}
    )
    assert answer.status == 413


def test_attributes_are_defined_by_supervisors_and_used_by_agents(gateway, staff_token, shops):
    sup = staff_token("shop-a", "sue", "supervisor")
    agent = staff_token("shop-a", "amy", "agent")
    definition = {
        "attribute_id": "sizes",
        "name": "尺码",
        "type": "multi_choice",
        "options": ["S", "M"],
    }
    assert gateway.post("/v1/customer-attributes", token=agent, json_body=definition).status == 403
    assert gateway.post("/v1/customer-attributes", token=sup, json_body=definition).status == 201
    assert gateway.post("/v1/customer-attributes", token=sup, json_body=definition).status == 409
    listed = gateway.get("/v1/customer-attributes", token=agent).json()["attributes"]
    assert [a["attribute_id"] for a in listed] == ["sizes"]
    grown = gateway.patch(
        "/v1/customer-attributes/sizes", token=sup, json_body={"options": ["S", "M", "L"]}
    )
    assert grown.status == 200 and grown.json()["options"] == ["S", "M", "L"]

    url = f"/v1/customers/{shops['alice']}"
    ok = gateway.patch(url, token=agent, json_body={"attributes": {"sizes": ["L"]}})
    assert ok.status == 200 and ok.json()["attributes"] == {"sizes": ["L"]}
    bad = gateway.patch(url, token=agent, json_body={"attributes": {"sizes": "L"}})
    assert bad.status == 400 and bad.error["code"] == "invalid_attribute_value"

    gone = gateway.request("DELETE", "/v1/customer-attributes/sizes", token=sup)
    assert gone.status == 200
    assert gateway.get(url, token=agent).json()["attributes"] == {}


def test_another_shop_s_staff_cannot_see_the_customer(gateway, staff_token, shops):
    other = staff_token("shop-b", "bob", "owner")
    assert gateway.get(f"/v1/customers/{shops['alice']}", token=other).status == 404
    assert gateway.get("/v1/customers", token=other, query={"q": "alice"}).json()["customers"] == []


def test_merge_export_and_erase_over_http(gateway, staff_token, shops):
    owner = staff_token("shop-a", "boss", "owner")
    agent = staff_token("shop-a", "amy", "agent")
    other = gateway.app_login("shop-a", "alice-2").json()["customer_id"]
    url = f"/v1/customers/{shops['alice']}"

    shown = gateway.post(f"{url}/merge/preview", token=owner, json_body={"merge_id": other})
    assert shown.status == 200 and shown.json()["blocked"] is None
    assert gateway.post(f"{url}/merge", token=agent, json_body={"merge_id": other}).status == 403
    same = gateway.post(f"{url}/merge", token=owner, json_body={"merge_id": shops["alice"]})
    assert same.status == 400 and same.error["code"] == "same_customer"
    merged = gateway.post(f"{url}/merge", token=owner, json_body={"merge_id": other})
    assert merged.status == 200 and merged.json()["merged_into"] == shops["alice"]

    assert gateway.get(f"{url}/export", token=agent).status == 403
    exported = gateway.get(f"{url}/export", token=owner)
    assert exported.status == 200
    assert "app_user:alice-2" in exported.json()["identities"]

    assert gateway.post(f"{url}/erase", token=agent).status == 403
    erased = gateway.post(f"{url}/erase", token=owner)
    assert erased.status == 200 and erased.json()["erased_at"]
    assert gateway.get(url, token=owner).json()["display_name"] is None
