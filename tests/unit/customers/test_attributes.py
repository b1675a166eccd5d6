"""Specification: a shop defines its customer attributes; values are checked against the
definition's type on every write; definitions are managed by supervisors and owners, audited."""

import pytest
from kefu.audit import AuditRecord
from kefu.customers import attributes
from kefu.customers.attributes import AttributeChange, NewAttribute
from kefu.errors import BadRequest, Conflict, Forbidden, NotFound


@pytest.fixture
def defined(crm):
    sue = crm["supervisor"]
    for new in (
        NewAttribute("note", "备注", "text", max_length=5),
        NewAttribute("height", "身高", "number"),
        NewAttribute("since", "首单日", "date"),
        NewAttribute("level", "等级", "single_choice", options=["金", "银"]),
        NewAttribute("likes", "偏好", "multi_choice", options=["鞋", "包"]),
        NewAttribute("wholesale", "批发", "bool"),
    ):
        attributes.create_attribute(sue, new)
    return crm


@pytest.mark.parametrize(
    "values, stored",
    [
        ({"note": "短备注"}, {"note": "短备注"}),
        ({"height": 172.5}, {"height": 172.5}),
        ({"since": "2024-02-29"}, {"since": "2024-02-29"}),
        ({"level": "金"}, {"level": "金"}),
        ({"likes": ["包", "鞋", "包"]}, {"likes": ["包", "鞋"]}),
        ({"wholesale": False}, {"wholesale": False}),
    ],
)
def test_values_of_the_right_type_are_kept(defined, values, stored):
    assert attributes.apply_values("shop-a", {}, values) == stored


@pytest.mark.parametrize(
    "values",
    [
        {"note": "太长了的备注"},
        {"note": 5},
        {"height": "172"},
        {"height": True},
        {"since": "2024-02-30"},
        {"level": "铜"},
        {"likes": "鞋"},
        {"likes": ["鞋", "帽"]},
        {"wholesale": 1},
    ],
)
def test_values_of_the_wrong_type_are_a_400_naming_the_attribute(defined, values):
    with pytest.raises(BadRequest) as err:
        attributes.apply_values("shop-a", {}, values)
    assert err.value.code == "invalid_attribute_value"
    assert err.value.details["attribute_id"] == next(iter(values))


def test_choices_need_options_and_other_types_refuse_them(crm):
    with pytest.raises(BadRequest) as err:
        attributes.create_attribute(crm["supervisor"], NewAttribute("x", "X", "single_choice"))
    assert err.value.code == "options_required"
    with pytest.raises(BadRequest) as err:
        attributes.create_attribute(
            crm["supervisor"], NewAttribute("y", "Y", "bool", options=["a"])
        )
    assert err.value.code == "unexpected_options"


def test_options_may_be_added_never_removed(defined):
    sue = defined["supervisor"]
    grown = attributes.update_attribute(sue, "level", AttributeChange(options=["金", "银", "铜"]))
    assert grown["options"] == ["金", "银", "铜"]
    with pytest.raises(BadRequest) as err:
        attributes.update_attribute(sue, "level", AttributeChange(options=["金"]))
    assert err.value.code == "option_in_use"


def test_definitions_are_managed_by_supervisors_and_owners_and_audited(defined):
    with pytest.raises(Forbidden):
        attributes.create_attribute(defined["agent"], NewAttribute("z", "Z", "text"))
    with pytest.raises(Conflict):
        attributes.create_attribute(defined["owner"], NewAttribute("note", "again", "text"))
    attributes.delete_attribute(defined["owner"], "note")
    with pytest.raises(NotFound):
        attributes.delete_attribute(defined["owner"], "note")
    actions = sorted(a.action for a in AuditRecord.query("shop-a"))
    assert actions.count("customer_attribute.created") == 6
    assert actions.count("customer_attribute.deleted") == 1


def test_another_shop_does_not_see_the_definitions(defined):
    assert attributes.list_attributes(defined["other_shop"]) == {"attributes": []}
