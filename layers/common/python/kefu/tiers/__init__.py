"""Tiers: RFM scores, the shop's tiers, points and member levels (docs/tiers.md).

`rules` the pure scoring, `settings` the shop's settings (the HTTP-facing service and the tier-id
check other capabilities use), `recompute` the event-facing work, `nightly` the scheduled pass.
"""
