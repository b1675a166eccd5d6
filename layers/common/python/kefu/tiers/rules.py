"""RFM scores and the shop's tiers: the pure logic (no I/O), docs/tiers.md.

R, F and M are scored 1-5 from the customer's purchase summary against the shop's four
thresholds each (days since the last purchase; number of orders; total spent in yuan). The
shop's tiers are an ordered list: each has score ranges for R, F and M, and the first tier whose
ranges all hold is the customer's. A customer with no purchase has no scores and the built-in
tier `regular`. Points (if the shop uses them) are earned per yuan paid, and the member level
is the highest level whose `min_points` the balance reaches.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from kefu.errors import BadRequest

DAY_MS = 86_400_000
UNSCORED = "regular"  # kefu.storage.tiers.UNSCORED: the tier of a customer with no purchase

TierId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
TierName = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Score = Annotated[int, msgspec.Meta(ge=1, le=5)]
ScoreRange = Annotated[list[Score], msgspec.Meta(min_length=2, max_length=2)]
Cutoff = Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
Cutoffs = Annotated[list[Cutoff], msgspec.Meta(min_length=4, max_length=4)]


class TierDef(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    tier_id: TierId
    name: TierName
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    # [min, max] inclusive; left out: any score.
    r: ScoreRange | None = None
    f: ScoreRange | None = None
    m: ScoreRange | None = None


class MemberLevel(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level_id: TierId
    name: TierName
    min_points: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


# The defaults, in the order they are tried (the first whose ranges hold wins).
DEFAULT_TIERS = [
    TierDef(
        tier_id="high_value",
        name="高价值",
        description="近期买过、买得多、花得多",
        r=[4, 5],
        f=[4, 5],
        m=[4, 5],
    ),
    TierDef(tier_id="loyal", name="忠实", description="不算久远、多次复购", r=[3, 5], f=[3, 5]),
    TierDef(tier_id="lost", name="流失", description="超过一年没有购买", r=[1, 1]),
    TierDef(tier_id="dormant", name="沉睡", description="半年以上没有购买", r=[2, 2]),
    TierDef(tier_id="new", name="新客", description="近半年内只买过一次", r=[3, 5], f=[1, 1]),
    TierDef(tier_id="active", name="活跃", description="近半年内买过", r=[3, 5]),
]
DEFAULT_LEVELS = [
    MemberLevel(level_id="member", name="普通会员", min_points=0),
    MemberLevel(level_id="silver", name="银卡会员", min_points=1_000),
    MemberLevel(level_id="gold", name="金卡会员", min_points=5_000),
    MemberLevel(level_id="diamond", name="钻石会员", min_points=20_000),
]


class TierSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """PUT /v1/tier-settings: the whole document (fields left out take their defaults)."""

    # R: at most this many days since the last purchase scores 5, 4, 3, 2 (more: 1).
    recency_days: Cutoffs = msgspec.field(default_factory=lambda: [30, 90, 180, 365])
    # F: at least this many orders scores 2, 3, 4, 5 (fewer: 1).
    frequency_orders: Cutoffs = msgspec.field(default_factory=lambda: [2, 3, 5, 10])
    # M: at least this much spent, in yuan, scores 2, 3, 4, 5 (less: 1).
    monetary_yuan: Cutoffs = msgspec.field(default_factory=lambda: [100, 500, 2_000, 5_000])
    tiers: Annotated[list[TierDef], msgspec.Meta(min_length=1, max_length=12)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_TIERS)
    )
    points_enabled: bool = False
    # Points per yuan of a paid order (rounded down per order); taken back on its refund.
    points_per_yuan: Annotated[float, msgspec.Meta(ge=0, le=100)] = 1.0
    member_levels: Annotated[list[MemberLevel], msgspec.Meta(max_length=12)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_LEVELS)
    )


def check(settings: TierSettings) -> None:
    """What the types cannot say; a 400 naming the problem."""
    r, f, m = settings.recency_days, settings.frequency_orders, settings.monetary_yuan
    for name, cutoffs in (("recency_days", r), ("frequency_orders", f), ("monetary_yuan", m)):
        if any(a >= b for a, b in itertools.pairwise(cutoffs)):
            raise BadRequest(f"{name} must rise strictly: {cutoffs}", code="invalid_thresholds")
    ids = [t.tier_id for t in settings.tiers]
    names = [t.name for t in settings.tiers]
    if UNSCORED in ids:
        raise BadRequest(
            f"tier id {UNSCORED!r} is built in (customers with no purchase)", code="reserved_tier"
        )
    for what, values in (("tier_id", ids), ("name", names)):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise BadRequest(f"{what} {twice[0]!r} appears twice", code="duplicate_tier")
    for tier in settings.tiers:
        for axis in ("r", "f", "m"):
            bounds = getattr(tier, axis)
            if bounds is not None and bounds[0] > bounds[1]:
                raise BadRequest(
                    f"tier {tier.tier_id!r}: {axis} range {bounds} runs backwards",
                    code="invalid_range",
                )
    compiled = compile_settings(settings)
    for scores in itertools.product(range(1, 6), repeat=3):
        if compiled.tier_for(Rfm(*scores)) is None:
            r_, f_, m_ = scores
            raise BadRequest(
                f"no tier holds for R={r_} F={f_} M={m_}: every combination of scores needs a "
                "tier (end the list with one without ranges, for instance)",
                code="tiers_incomplete",
                details={"r": r_, "f": f_, "m": m_},
            )
    levels = settings.member_levels
    if levels:
        level_ids = [lv.level_id for lv in levels]
        if len(set(level_ids)) != len(level_ids):
            raise BadRequest("member level ids must be unique", code="duplicate_level")
        if levels[0].min_points != 0 or any(
            a.min_points >= b.min_points for a, b in itertools.pairwise(levels)
        ):
            raise BadRequest(
                "member levels start at min_points 0 and rise strictly", code="invalid_levels"
            )


# ------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Rfm:
    r: int
    f: int
    m: int

    def as_dict(self) -> dict[str, int]:
        return {"r": self.r, "f": self.f, "m": self.m}


@dataclass(frozen=True)
class Summary:
    """The purchase summary as the customer item holds it (absent values: zero)."""

    orders_count: int = 0
    total_spent: int = 0  # cents
    last_purchase_at: int | None = None


@dataclass(frozen=True)
class Result:
    tier: str
    rfm: Rfm | None
    member_level: str | None


def _within(bounds: list[int] | None, score: int) -> bool:
    return bounds is None or bounds[0] <= score <= bounds[1]


class CompiledSettings:
    """A shop's settings, ready to score customers (cached per revision by kefu.tiers.store)."""

    def __init__(self, settings: TierSettings, revision: int = 0) -> None:
        self.settings = settings
        self.revision = revision
        self.recency_ms = [d * DAY_MS for d in settings.recency_days]
        self.monetary_cents = [y * 100 for y in settings.monetary_yuan]
        self.tier_ids = frozenset([UNSCORED, *(t.tier_id for t in settings.tiers)])

    def scores(self, summary: Summary, now: int) -> Rfm | None:
        if summary.orders_count <= 0:
            return None
        if summary.last_purchase_at is None:
            r = 1
        else:
            age = max(now - summary.last_purchase_at, 0)
            r = 5 - sum(age > cutoff for cutoff in self.recency_ms)
        f = 1 + sum(summary.orders_count >= c for c in self.settings.frequency_orders)
        m = 1 + sum(summary.total_spent >= c for c in self.monetary_cents)
        return Rfm(r, f, m)

    def tier_for(self, rfm: Rfm) -> str | None:
        for tier in self.settings.tiers:
            if _within(tier.r, rfm.r) and _within(tier.f, rfm.f) and _within(tier.m, rfm.m):
                return tier.tier_id
        return None

    def level_for(self, points: int) -> str | None:
        if not self.settings.points_enabled:
            return None
        level = None
        for candidate in self.settings.member_levels:
            if points >= candidate.min_points:
                level = candidate.level_id
        return level

    def evaluate(self, summary: Summary, points: int, now: int) -> Result:
        rfm = self.scores(summary, now)
        tier = (self.tier_for(rfm) if rfm else None) or UNSCORED
        return Result(tier, rfm, self.level_for(points))

    def points_for(self, amount_cents: int) -> int:
        """Points an order of this amount earns (rounded down)."""
        if not self.settings.points_enabled:
            return 0
        return int(amount_cents * self.settings.points_per_yuan // 100)


def compile_settings(settings: TierSettings, revision: int = 0) -> CompiledSettings:
    return CompiledSettings(settings, revision)


def compile_doc(doc: dict[str, Any] | None, revision: int = 0) -> CompiledSettings:
    return CompiledSettings(msgspec.convert(doc or {}, TierSettings), revision)


DEFAULTS = compile_doc(None)


def cents(amount: str | None) -> int:
    """ "79.50" (yuan, as the shop's events carry money) -> 7950; None or bad -> 0."""
    if not amount:
        return 0
    whole, _, frac = amount.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return 0
    return int(whole) * 100 + int((frac + "00")[:2])
