"""Specification: staff read and edit a customer's profile. Personal fields are stored only
encrypted, shown masked unless revealed by a role that may see them (and then audited first);
bad input is a clear 400 that changes nothing."""

import msgspec
import pytest
from kefu.audit import AuditRecord
from kefu.customers import attributes, profiles
from kefu.customers.attributes import NewAttribute
from kefu.customers.fields import ProfileChange
from kefu.errors import BadRequest, Conflict, Forbidden
from kefu.storage.customers import Customer, CustomerLookup


def change(**fields) -> ProfileChange:
    return msgspec.convert(fields, ProfileChange)


def raw_item(shop, customer_id) -> dict:
    return Customer.get(shop, Customer.key(customer_id)).serialize()


def audits(shop, action):
    return [a for a in AuditRecord.query(shop) if a.action == action]


def test_an_edit_stores_personal_fields_encrypted_and_answers_them_masked(crm):
    answer = profiles.update_profile(
        crm["agent"],
        crm["ming"],
        change(
            real_name="王小明",
            phones=["+86 138-1234-5678", "13812345678", "+85291234567"],
            addresses=[
                {"region": "广东省/深圳市", "detail": "南山区科技园1号", "recipient": "王小明"}
            ],
            birthday="1990-05-17",
            gender="male",
            region="广东省/深圳市",
            remarks="喜欢顺丰",
        ),
    )
    assert answer["phones"] == ["138****5678", "+85*****4567"]  # normalised, de-duplicated
    assert answer["contact"] == "138****5678"
    assert answer["real_name"] == "王**"
    assert answer["addresses"][0]["detail"] == "****"
    assert answer["birthday"] == "****-05-**"
    assert answer["personal_masked"] is True
    assert (answer["gender"], answer["region"], answer["remarks"]) == (
        "male",
        "广东省/深圳市",
        "喜欢顺丰",
    )
    stored = repr(raw_item("shop-a", crm["ming"]))
    for plaintext in ("13812345678", "91234567", "王小明", "南山区", "1990-05-17"):
        assert plaintext not in stored


def test_reveal_needs_the_contact_permission_and_is_audited_before_the_answer(crm):
    profiles.update_profile(
        crm["agent"], crm["ming"], change(phones=["13812345678"], real_name="王小明")
    )
    with pytest.raises(Forbidden):
        profiles.get_profile("shop-a", crm["ming"], crm["agent"], reveal=True)
    assert audits("shop-a", "customer.personal_viewed") == []

    shown = profiles.get_profile("shop-a", crm["ming"], crm["supervisor"], reveal=True)
    assert shown["phones"] == ["13812345678"] and shown["real_name"] == "王小明"
    assert shown["personal_masked"] is False
    (record,) = audits("shop-a", "customer.personal_viewed")
    assert (record.actor, record.target_id) == ("staff:sue", crm["ming"])

    masked = profiles.get_profile("shop-a", crm["ming"], crm["supervisor"])
    assert masked["phones"] == ["138****5678"]  # without ?reveal: masked, nothing audited
    assert len(audits("shop-a", "customer.personal_viewed")) == 1


def test_a_legacy_plaintext_contact_is_shown_masked_and_moves_into_encrypted_phones(crm):
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.contact.set("13900001111")]
    )
    assert profiles.get_profile("shop-a", crm["ming"], crm["agent"])["contact"] == "139****1111"
    profiles.update_profile(crm["agent"], crm["ming"], change(remarks="老客户"))
    item = Customer.get("shop-a", Customer.key(crm["ming"]))
    assert item.contact is None and item.phones
    revealed = profiles.get_profile("shop-a", crm["ming"], crm["owner"], reveal=True)
    assert revealed["phones"] == ["13900001111"]


def test_the_lifecycle_stage_is_derived_until_staff_override_it_and_back(crm):
    assert (
        profiles.get_profile("shop-a", crm["ming"], crm["agent"])["lifecycle_stage"] == "prospect"
    )
    answer = profiles.update_profile(crm["agent"], crm["ming"], change(lifecycle_stage="repeat"))
    assert (answer["lifecycle_stage"], answer["lifecycle_override"]) == ("repeat", True)
    answer = profiles.update_profile(crm["agent"], crm["ming"], change(lifecycle_stage=None))
    assert (answer["lifecycle_stage"], answer["lifecycle_override"]) == ("prospect", False)


def test_the_owner_agent_must_be_an_active_staff_member_of_the_shop(crm):
    answer = profiles.update_profile(crm["supervisor"], crm["ming"], change(owner_agent="amy"))
    assert answer["owner_agent"] == "amy"
    for who in ("nobody", "bob"):  # bob is staff of another shop
        with pytest.raises(BadRequest) as err:
            profiles.update_profile(crm["supervisor"], crm["ming"], change(owner_agent=who))
        assert err.value.code == "unknown_owner_agent"
    assert profiles.get_profile("shop-a", crm["ming"], crm["agent"])["owner_agent"] == "amy"


def test_custom_attributes_are_validated_against_the_shop_s_definitions(crm):
    sue = crm["supervisor"]
    attributes.create_attribute(sue, NewAttribute("vip_since", "VIP 起始日", "date"))
    attributes.create_attribute(
        sue, NewAttribute("sizes", "尺码", "multi_choice", options=["S", "M", "L"])
    )
    attributes.create_attribute(sue, NewAttribute("wholesale", "批发客户", "bool"))
    answer = profiles.update_profile(
        crm["agent"],
        crm["ming"],
        change(attributes={"vip_since": "2024-01-31", "sizes": ["M", "S"], "wholesale": True}),
    )
    assert answer["attributes"] == {
        "vip_since": "2024-01-31",
        "sizes": ["M", "S"],
        "wholesale": True,
    }

    bad = [
        ({"colour": "red"}, "unknown_attribute"),
        ({"vip_since": "31/01/2024"}, "invalid_attribute_value"),
        ({"sizes": ["XXL"]}, "invalid_attribute_value"),
        ({"wholesale": "yes"}, "invalid_attribute_value"),
    ]
    for values, code in bad:
        with pytest.raises(BadRequest) as err:
            profiles.update_profile(
                crm["agent"], crm["ming"], change(attributes=values, remarks="x")
            )
        assert err.value.code == code
    after = profiles.get_profile("shop-a", crm["ming"], crm["agent"])
    assert after["attributes"] == answer["attributes"] and after["remarks"] is None  # unchanged

    answer = profiles.update_profile(
        crm["agent"], crm["ming"], change(attributes={"wholesale": None})
    )
    assert "wholesale" not in answer["attributes"]


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"phones": ["12345"]}, "invalid_phone"),
        ({"phones": ["1381234567x"]}, "invalid_phone"),
        ({"birthday": "1990-02-30"}, "invalid_birthday"),
        ({"birthday": "2999-01-01"}, "invalid_birthday"),
        ({}, "empty_change"),
    ],
)
def test_bad_input_is_a_400_that_changes_nothing(crm, fields, code):
    before = raw_item("shop-a", crm["ming"])
    with pytest.raises(BadRequest) as err:
        profiles.update_profile(
            crm["agent"], crm["ming"], change(**fields, **({"remarks": "x"} if fields else {}))
        )
    assert err.value.code == code
    assert raw_item("shop-a", crm["ming"]) == before
    assert audits("shop-a", "customer.updated") == []


def test_every_edit_is_audited_with_masked_values_and_announced_by_field_name(crm):
    profiles.update_profile(crm["agent"], crm["ming"], change(phones=["13812345678"], remarks="r"))
    (record,) = audits("shop-a", "customer.updated")
    assert record.after["phones"] == ["138****5678"] and "13812345678" not in repr(record.after)
    (event,) = crm["env"].events("customer.updated")
    assert event["data"]["fields"] == ["phones", "remarks"]
    assert "13812345678" not in repr(event)


def test_a_phone_and_a_real_name_are_indexed_only_by_their_keyed_hash(crm):
    profiles.update_profile(
        crm["agent"], crm["ming"], change(phones=["13812345678"], real_name="王小明")
    )
    lookups = list(CustomerLookup.query("shop-a", CustomerLookup.sk.startswith("LOOKUP#")))
    assert sorted(item.kind for item in lookups) == ["phone", "real_name"]
    assert all("13812345678" not in item.sk and "王" not in item.sk for item in lookups)
    profiles.update_profile(crm["agent"], crm["ming"], change(phones=None))
    lookups = list(CustomerLookup.query("shop-a", CustomerLookup.sk.startswith("LOOKUP#")))
    assert [item.kind for item in lookups] == ["real_name"]  # the old number's lookup is gone


def test_a_customer_of_another_shop_is_not_found(crm):
    from kefu.errors import NotFound

    with pytest.raises(NotFound):
        profiles.get_profile("shop-b", crm["ming"], crm["other_shop"])
    with pytest.raises(NotFound):
        profiles.update_profile(crm["other_shop"], crm["ming"], change(remarks="x"))


def test_a_merged_profile_cannot_be_edited(crm):
    Customer(shop_id="shop-a", sk=Customer.key(crm["ming"])).update(
        actions=[Customer.merged_into.set(crm["alice"])]
    )
    with pytest.raises(Conflict) as err:
        profiles.update_profile(crm["agent"], crm["ming"], change(remarks="x"))
    assert err.value.code == "customer_merged"
