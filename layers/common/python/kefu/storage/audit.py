"""AuditTable: who changed what, when, from what to what. Append-only.

pk = shop_id, sk = "<13-digit ms>#<audit id>"
GSI by_target  shop_target = "<shop>#<target type>#<target id>"  sort at
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from kefu.storage.base import KefuModel, table_name


class _ByTarget(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_target"
        projection = AllProjection()

    shop_target = UnicodeAttribute(hash_key=True)
    at = NumberAttribute(range_key=True)


class AuditRecord(KefuModel):
    class Meta(KefuModel.Meta):
        table_name = table_name("AUDIT_TABLE", "kefu-audit")

    shop_id = UnicodeAttribute(hash_key=True, attr_name="pk")
    audit_key = UnicodeAttribute(range_key=True, attr_name="sk")
    audit_id = UnicodeAttribute()
    at = NumberAttribute()
    actor = UnicodeAttribute()
    actor_role = UnicodeAttribute(null=True)
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    shop_target = UnicodeAttribute()
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    request_id = UnicodeAttribute(null=True)

    by_target = _ByTarget()

    @staticmethod
    def sort_key(at_ms: int, audit_id: str) -> str:
        return f"{at_ms:013d}#{audit_id}"

    @staticmethod
    def target_key(shop_id: str, target_type: str, target_id: str) -> str:
        return f"{shop_id}#{target_type}#{target_id}"

    def to_public(self) -> dict:
        return {
            "audit_id": self.audit_id,
            "at": self.at,
            "actor": self.actor,
            "actor_role": self.actor_role,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "before": self.before,
            "after": self.after,
            "request_id": self.request_id,
        }
