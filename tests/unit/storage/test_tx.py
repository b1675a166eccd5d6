"""kefu.storage.tx: where each action of a transaction sits in the request, read publicly."""

import pytest
from kefu.storage.runtime import InboundDedupe
from kefu.storage.tx import condition_failed, old_item, write_transaction
from pynamodb.exceptions import TransactWriteError


def _item(key: str, message_id: str = "m1") -> InboundDedupe:
    return InboundDedupe(
        InboundDedupe.key("s1", "app", key),
        conversation_id="c1",
        message_id=message_id,
        msg_key="k",
        expires_at=2_000_000_000,
    )


def test_positions_follow_the_order_pynamodb_sends_not_call_order(kefu_env):
    tx = write_transaction()
    tx.update(_item("u"), [InboundDedupe.msg_key.set("x")])
    tx.save(_item("p0"))
    tx.save(_item("p1"))
    tx.delete(_item("d"))
    tx.condition_check(
        InboundDedupe, InboundDedupe.key("s1", "app", "c"), condition=InboundDedupe.pk.exists()
    )
    # condition check, delete, then the puts, then the update
    assert (tx.put_index(0), tx.put_index(1), tx.update_index(0)) == (2, 3, 4)


def test_the_index_names_the_action_whose_condition_failed(kefu_env):
    _item("taken", message_id="first").save()
    tx = write_transaction()
    with pytest.raises(TransactWriteError) as err, tx:
        tx.update(
            _item("absent"),
            [InboundDedupe.msg_key.set("x")],
            condition=InboundDedupe.pk.exists(),
        )
        tx.save(_item("fresh"))
        tx.save(
            _item("taken", message_id="second"),
            condition=InboundDedupe.pk.does_not_exist(),
            return_values="ALL_OLD",
        )
    exc = err.value
    assert condition_failed(exc, tx.put_index(1))
    assert old_item(exc, tx.put_index(1))["message_id"] == {"S": "first"}
    assert condition_failed(exc, tx.update_index(0))
    assert not condition_failed(exc, tx.put_index(0))
