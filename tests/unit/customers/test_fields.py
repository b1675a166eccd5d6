"""Specification: one spelling per phone number, masks that confirm without revealing, and the
lifecycle stage derived from the purchase summary."""

import pytest
from kefu.customers import fields
from kefu.errors import BadRequest


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("+852 9123 4567", "+85291234567"),
    ],
)
def test_a_phone_has_one_spelling(raw, normalised):
    assert fields.normalise_phone(raw) == normalised


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "call me", "+0123456789", ""])
def test_anything_else_is_not_a_phone(raw):
    with pytest.raises(BadRequest) as err:
        fields.normalise_phone(raw)
    assert err.value.code == "invalid_phone"


def test_masks_keep_enough_to_confirm_and_no_more():
    assert fields.mask_phone("13812345678") == "138****5678"
    assert fields.mask_name("王小明") == "王**"
    assert fields.mask_name("Alice Wang") == "A**** W***"
    assert fields.mask_birthday("1990-05-17") == "****-05-**"
    address = {
        "region": "广东省/深圳市",
        "detail": "南山区1号",
        "recipient": "王小明",
        "phone": "13812345678",
    }
    assert fields.mask_address(address) == {
        "region": "广东省/深圳市",
        "detail": "****",
        "recipient": "王**",
        "phone": "138****5678",
        "postcode": None,
        "label": None,
    }


@pytest.mark.parametrize(
    "orders, last_purchase, last_refund, stage",
    [
        (0, None, None, "prospect"),
        (1, 10, None, "ordered"),
        (3, 10, None, "repeat"),
        (3, 10, 20, "after_sales"),  # a refund since the last purchase
        (3, 30, 20, "repeat"),  # bought again after the refund
    ],
)
def test_the_lifecycle_stage_follows_the_summary(orders, last_purchase, last_refund, stage):
    assert fields.derived_stage(orders, last_purchase, last_refund) == stage


@pytest.mark.parametrize("raw", ["1990-02-30", "19900517", "2999-01-01", "1899-12-31"])
def test_a_birthday_is_a_real_past_date(raw):
    with pytest.raises(BadRequest) as err:
        fields.normalise_birthday(raw)
    assert err.value.code == "invalid_birthday"
