"""A customer profile's fields: what a PATCH may send (msgspec shapes), how personal values are
normalised (phones) and masked (138****5678, 张*), and the lifecycle stage derived from the
purchase summary. Pure: no AWS here."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from kefu.errors import BadRequest
from kefu.validation import Username

PERSONAL_FIELDS = ("real_name", "phones", "addresses", "birthday")
GENDERS = ("male", "female", "unknown")
CHANNELS = ("wechat", "app", "h5")
# 潜在客户 → 已下单 → 复购 → 售后
LIFECYCLE_STAGES = ("prospect", "ordered", "repeat", "after_sales")
MAX_PHONES = 5
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # YYYY-MM-DD only (fromisoformat takes more)
MAX_ADDRESSES = 10

Short = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Address(msgspec.Struct, forbid_unknown_fields=True):
    detail: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    region: Annotated[str, msgspec.Meta(max_length=64)] | None = None  # 广东省/深圳市/南山区
    recipient: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    postcode: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z -]{3,12}$")] | None = None
    label: Annotated[str, msgspec.Meta(max_length=16)] | None = None  # 家, 公司


class ProfileChange(msgspec.Struct, forbid_unknown_fields=True):
    """PATCH /v1/customers/{id}: a field left out is unchanged; null clears it (lifecycle_stage:
    null goes back to the derived stage; attributes: a null value removes that attribute)."""

    display_name: Short | None | UnsetType = UNSET
    real_name: Short | None | UnsetType = UNSET
    phones: (
        Annotated[list[Annotated[str, msgspec.Meta(max_length=32)]], msgspec.Meta(max_length=5)]
        | None
        | UnsetType
    ) = UNSET
    addresses: (
        Annotated[list[Address], msgspec.Meta(max_length=MAX_ADDRESSES)] | None | UnsetType
    ) = UNSET
    birthday: Annotated[str, msgspec.Meta(max_length=10)] | None | UnsetType = UNSET
    gender: Annotated[str, msgspec.Meta(pattern=r"^(male|female|unknown)$")] | None | UnsetType = (
        UNSET
    )
    region: Short | None | UnsetType = UNSET
    source_channel: Annotated[str, msgspec.Meta(max_length=32)] | None | UnsetType = UNSET
    source_campaign: Short | None | UnsetType = UNSET
    channels: (
        Annotated[
            list[Annotated[str, msgspec.Meta(pattern=r"^(wechat|app|h5)$")]],
            msgspec.Meta(max_length=3),
        ]
        | None
        | UnsetType
    ) = UNSET
    lifecycle_stage: (
        Annotated[str, msgspec.Meta(pattern=r"^(prospect|ordered|repeat|after_sales)$")]
        | None
        | UnsetType
    ) = UNSET
    remarks: Annotated[str, msgspec.Meta(max_length=1000)] | None | UnsetType = UNSET
    owner_agent: Username | None | UnsetType = UNSET
    attributes: Annotated[dict[str, Any], msgspec.Meta(max_length=50)] | UnsetType = UNSET

    def given(self) -> dict[str, Any]:
        """The fields the request sent, by name (null included)."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not UNSET
        }


# ----------------------------------------------------------------------------- phones

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_INTERNATIONAL = re.compile(r"^\+[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalise_phone(raw: str) -> str:
    """One spelling per number: a mainland mobile as its 11 digits (+86/0086 dropped), any other
    number in E.164 (+<country><number>). Anything else is a 400 `invalid_phone`."""
    text = _SEPARATORS.sub("", raw or "")
    for prefix in ("+86", "0086"):
        if text.startswith(prefix) and _CN_MOBILE.match(text[len(prefix) :]):
            return text[len(prefix) :]
    if _CN_MOBILE.match(text) or _INTERNATIONAL.match(text):
        return text
    raise BadRequest(
        f"{raw!r} is not a phone number: send a mainland mobile (13812345678) or an "
        "international number with its country code (+85291234567)",
        code="invalid_phone",
    )


def normalise_birthday(raw: str) -> str:
    try:
        if not ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            f"birthday {raw!r} is not a date: send YYYY-MM-DD", code="invalid_birthday"
        ) from None
    if not dt.date(1900, 1, 1) <= day <= dt.date.today():
        raise BadRequest("birthday must be between 1900-01-01 and today", code="invalid_birthday")
    return day.isoformat()


def normalise_name(raw: str) -> str:
    """A real name as it is searched: spaces collapsed, case folded."""
    return " ".join(raw.split()).casefold()


# ----------------------------------------------------------------------------- masking


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to confirm a number with the customer, not to call it."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_name(name: str | None) -> str | None:
    """张*, 欧阳** , J*** S****: the first character of each part."""
    if not name:
        return name
    return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split())


def mask_address(address: dict[str, Any]) -> dict[str, Any]:
    """The region stays (it is on the profile anyway); the street, recipient and phone do not."""
    return {
        "region": address.get("region"),
        "detail": "****",
        "recipient": mask_name(address.get("recipient")),
        "phone": mask_phone(address.get("phone")),
        "postcode": None,
        "label": address.get("label"),
    }


def mask_birthday(birthday: str | None) -> str | None:
    return None if not birthday else "****-" + birthday[5:7] + "-**"


def masked_forms(values: dict[str, Any]) -> dict[str, Any]:
    """The masked copies kept beside the ciphertexts, for the given personal fields."""
    out: dict[str, Any] = {}
    if "real_name" in values:
        out["real_name"] = mask_name(values["real_name"])
    if "phones" in values:
        out["phones"] = [mask_phone(p) for p in values["phones"] or []]
    if "addresses" in values:
        out["addresses"] = [mask_address(a) for a in values["addresses"] or []]
    if "birthday" in values:
        out["birthday"] = mask_birthday(values["birthday"])
    return out


# ----------------------------------------------------------------------------- lifecycle


def derived_stage(
    orders_count: int, last_purchase_at: int | None, last_refund_at: int | None
) -> str:
    """潜在客户 (no order), 已下单 (one), 复购 (two or more), 售后 (a refund since the last
    purchase: the customer's latest business with the shop is after-sales)."""
    if last_refund_at and (not last_purchase_at or last_refund_at >= last_purchase_at):
        return "after_sales"
    if orders_count >= 2:
        return "repeat"
    if orders_count == 1:
        return "ordered"
    return "prospect"
