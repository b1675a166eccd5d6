"""Specification: the segment index follows the CustomersTable's stream — new customers get a
dense number once, index changes are the difference of old and new images, and a batch applied
twice, or with duplicates out of order, leaves the same index."""

from kefu.segments import query
from kefu.segments.maintainer import apply_changes, net_changes
from kefu.storage import segments as store
from kefu.storage.customers import Customer

from tests.support.segments import item, record, save

SHOP = "shop-a"
VIP = {"tag": {"in": ["vip"]}}


def apply(*records):
    return apply_changes(net_changes(list(records)))


def ids(filter_):
    return set(query.member_ids(SHOP, query.matching(SHOP, filter_)))


def snapshot():
    names = store.known_indexes(SHOP)
    return store.read_bitmaps(SHOP, [(n, 0) for n in names], consistent=True)


def bits(table):
    return {k: v[0] for k, v in table.items()}


def test_a_new_customer_is_numbered_once_and_indexed(kefu_env):
    alice = item(SHOP, "c-alice", tags=["vip"], total_spent=12_000, region="广东省/深圳市")
    save(alice)
    applied = apply(record(None, alice))
    number = Customer.get(SHOP, Customer.key("c-alice")).number
    assert (applied.numbered, number) == (1, 0)
    assert ids(VIP) == {"c-alice"}
    assert ids({"region": {"in": ["广东省"]}}) == {"c-alice"}
    assert ids({"spend": {"gte": 12_000, "lte": 12_000}}) == {"c-alice"}

    # The maintainer's own write of the number comes back through the stream: nothing moves.
    numbered = {**alice, "number": 0}
    before = bits(snapshot())
    again = apply(record(alice, numbered))
    assert (again.numbered, again.items_written) == (0, 0)
    assert bits(snapshot()) == before
    assert store.numbers_in_use(SHOP) == 1


def test_a_change_moves_the_customer_between_bitmaps(kefu_env):
    bob = item(SHOP, "c-bob", tags=["vip"], tier="gold")
    save(bob)
    apply(record(None, bob))
    bob = {**bob, "number": 0}
    later = {**bob, "tags": ["new"], "tier": "silver"}
    apply(record(bob, later))
    assert ids(VIP) == set()
    assert ids({"tag": {"in": ["new"]}}) == {"c-bob"}
    assert ids({"tier": {"in": ["gold", "silver"]}}) == {"c-bob"}
    assert ids({"tier": {"in": ["gold"]}}) == set()


def test_replaying_a_batch_leaves_the_same_index(kefu_env):
    a = item(SHOP, "c-a", tags=["vip", "x"], orders_count=3, last_contact_at=1_760_000_000_000)
    b = item(SHOP, "c-b", tags=["x"])
    save(a)
    save(b)
    batch = [record(None, a), record(None, b), record(a, {**a, "tags": ["x"]})]
    apply(*batch)
    first = bits(snapshot())
    apply(*batch)  # Lambda retried the batch: the customers already have numbers
    assert bits(snapshot()) == first
    assert store.numbers_in_use(SHOP) == 4  # the retry's block went unused: a gap, no harm
    assert ids({"tag": {"in": ["x"]}}) == {"c-a", "c-b"}
    assert ids(VIP) == set()


def test_duplicates_out_of_order_within_a_batch_apply_in_sequence_order(kefu_env):
    v1 = item(SHOP, "c-c", tags=["a"])
    save(v1)
    # The other writers' images never carry the number until they re-read the item.
    v2 = {**v1, "tags": ["b"]}
    v3 = {**v1, "tags": ["c"]}
    apply(record(None, v1, sequence=10))
    first, second = record(v1, v2, sequence=11), record(v2, v3, sequence=12)
    apply(second, first, second, first)  # delivered twice, newest first
    assert ids({"tag": {"in": ["c"]}}) == {"c-c"}
    assert ids({"tag": {"in": ["a", "b"]}}) == set()


def test_erase_merge_and_delete_take_the_customer_out_of_every_bitmap(kefu_env):
    live = [item(SHOP, f"c-{i}", tags=["vip"], total_spent=100 * i) for i in range(3)]
    for c in live:
        save(c)
    apply(*(record(None, c) for c in live))
    assert ids(VIP) == {"c-0", "c-1", "c-2"}
    apply(
        record(live[0], {**live[0], "erased_at": 1, "tags": []}),
        record(live[1], {**live[1], "merged_into": "c-2"}),
    )
    assert ids(VIP) == {"c-2"}
    assert ids({"spend": {"gte": 0}}) == {"c-2"}
    apply(record(live[2], None))
    assert query.count(SHOP, None) == 0
    assert store.read_reverse(SHOP, [0, 1, 2]) == {}


def test_other_items_of_the_table_are_ignored(kefu_env):
    identity = {"pk": SHOP, "sk": "IDENTITY#wechat_openid#o1", "customer_id": "c-1"}
    assert apply(record(None, identity)).customers == 0


def test_an_erased_customer_is_never_numbered(kefu_env):
    gone = item(SHOP, "c-gone", erased_at=5)
    save(gone)
    assert apply(record(None, gone)).numbered == 0
    assert Customer.get(SHOP, Customer.key("c-gone")).number is None


def test_a_batch_writes_each_index_item_once_and_the_counter_once(kefu_env, monkeypatch):
    writes: list[tuple[str, str, int]] = []
    counter: list[str] = []
    real_write, real_allocate = store.write_bitmap, store.allocate_numbers

    def write(shop_id, index, chunk, bits, version):
        writes.append((shop_id, index, chunk))
        return real_write(shop_id, index, chunk, bits, version)

    def allocate(shop_id, count):
        counter.append(shop_id)
        return real_allocate(shop_id, count)

    monkeypatch.setattr(store, "write_bitmap", write)
    monkeypatch.setattr(store, "allocate_numbers", allocate)
    # A mall's burst: 60 new customers of two shops, all tagged alike, in one batch.
    batch = []
    for shop in ("shop-a", "shop-b"):
        for i in range(30):
            customer = item(shop, f"c-{i}", tags=["vip"], last_contact_at=1_760_000_000_000 + i)
            save(customer)
            batch.append(record(None, customer))
    apply(*batch)
    assert len(writes) == len(set(writes))  # no item twice
    assert sorted(counter) == ["shop-a", "shop-b"]
    assert query.count("shop-b", VIP) == 30 and query.count("shop-a", VIP) == 30
