"""Specification, against the local stack: staff edit a customer's profile; the personal fields
are stored encrypted (moto's KMS), answered masked, and revealed only to a role that may see
them — on the audit trail first."""

import pytest

pytestmark = pytest.mark.integration


def test_an_agent_edits_a_profile_and_the_owner_reveals_it_on_record(api, agent1, owner):
    customer = api.customer_login("demo", "profile-test-code")
    customer_id = customer["customer_id"]
    url = f"/v1/customers/{customer_id}"

    edited = api.patch(
        url,
        token=agent1,
        json={
            "display_name": "档案测试",
            "phones": ["+86 139 0000 1234"],
            "real_name": "李档案",
            "birthday": "1988-08-08",
            "region": "广东省/深圳市",
            "remarks": "只发顺丰",
        },
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["phones"] == ["139****1234"]
    assert edited.json()["real_name"] == "李**"

    bad = api.patch(url, token=agent1, json={"attributes": {"no_such_attribute": 1}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_attribute"

    assert api.get(url, token=agent1, params={"reveal": "true"}).status_code == 403
    revealed = api.get(url, token=owner, params={"reveal": "true"})
    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert (body["phones"], body["real_name"], body["birthday"]) == (
        ["13900001234"],
        "李档案",
        "1988-08-08",
    )
    trail = api.get(
        "/v1/audit", token=owner, params={"target_type": "customer", "target_id": customer_id}
    ).json()["audit"]
    actions = [r["action"] for r in trail]
    assert "customer.personal_viewed" in actions and "customer.updated" in actions

    found = api.get("/v1/customers", token=agent1, params={"q": "13900001234"}).json()
    assert [c["customer_id"] for c in found["customers"]] == [customer_id]
    by_name = api.get("/v1/customers", token=agent1, params={"q": "档案"}).json()
    assert customer_id in [c["customer_id"] for c in by_name["customers"]]
