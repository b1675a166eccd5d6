"""AuditTable: who changed what, when, from what to what. Append-only: every save is a Put
conditioned on `attribute_not_exists(sk)`, and update/delete/batch writes raise, so no code path
can change or remove a record (IAM grants no UpdateItem/DeleteItem on the table either).

pk = shop_id, sk = "<13-digit ms>#<audit id>"
GSI by_target  shop_target = "<shop>#<target type>#<target id>"  sort at
"""

from __future__ import annotations

from typing import Any, NoReturn

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

    # -- append-only: every write path of a pynamodb model goes through one of these ----------

    def _get_save_args(self, condition: Any = None, **kwargs: Any) -> Any:
        # Model.save and TransactWrite.save both build their Put here: never an overwrite.
        never_written = AuditRecord.audit_key.does_not_exist()
        condition = never_written if condition is None else condition & never_written
        return super()._get_save_args(condition=condition, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit records are append-only: no update")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit records are append-only: no delete")

    def get_update_kwargs_from_instance(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit records are append-only: no update (in a transaction either)")

    def get_delete_kwargs_from_instance(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit records are append-only: no delete (in a transaction either)")

    @classmethod
    def batch_write(cls, *args: Any, **kwargs: Any) -> NoReturn:
        # BatchWriteItem takes no condition: it could overwrite, so it is not offered.
        raise TypeError("audit records are written one conditional Put at a time")

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
