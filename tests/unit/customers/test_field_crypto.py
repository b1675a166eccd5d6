"""Specification: personal fields are envelope-encrypted under a KMS data key bound to the shop,
the customer and the field; data keys are cached for a bounded time and number of uses."""

import pytest
from kefu.aws import client
from kefu.customers import crypto


def _kms_calls(monkeypatch):
    calls = []
    kms = client("kms")
    for name in ("generate_data_key", "decrypt"):
        real = getattr(kms, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(kms, name, spy)
    return calls


def test_a_field_round_trips_and_its_envelope_holds_no_plaintext(kefu_env):
    envelope = crypto.encrypt("shop-a", "cu-1", "phones", '["13812345678"]')
    assert "1381234" not in envelope and envelope.startswith("kefu1.")
    assert crypto.decrypt("shop-a", "cu-1", "phones", envelope) == '["13812345678"]'


@pytest.mark.parametrize(
    "shop, customer, field",
    [("shop-b", "cu-1", "phones"), ("shop-a", "cu-2", "phones"), ("shop-a", "cu-1", "birthday")],
)
def test_a_ciphertext_moved_to_another_shop_customer_or_field_does_not_decrypt(
    kefu_env, shop, customer, field
):
    envelope = crypto.encrypt("shop-a", "cu-1", "phones", "secret")
    crypto.clear_cache()  # a cold instance: the data key must come from KMS, with its context
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(shop, customer, field, envelope)


def test_an_altered_envelope_is_refused(kefu_env):
    envelope = crypto.encrypt("shop-a", "cu-1", "real_name", "张三")
    head, key, nonce, sealed = envelope.split(".")
    tampered = ".".join(
        (head, key, nonce, sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1])
    )
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt("shop-a", "cu-1", "real_name", tampered)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt("shop-a", "cu-1", "real_name", "not-an-envelope")


def test_a_warm_instance_reuses_its_data_key_within_its_age_and_use_limits(kefu_env, monkeypatch):
    calls = _kms_calls(monkeypatch)
    first = crypto.encrypt("shop-a", "cu-1", "phones", "a")
    crypto.encrypt("shop-a", "cu-2", "phones", "b")
    crypto.decrypt("shop-a", "cu-1", "phones", first)
    assert calls == ["generate_data_key"]  # one key, and its own decryption is cached

    crypto.encrypt("shop-b", "cu-9", "phones", "c")
    assert calls == ["generate_data_key", "generate_data_key"]  # one per shop (its context)

    monkeypatch.setattr(crypto, "DATA_KEY_MAX_USES", 2)
    crypto.encrypt("shop-a", "cu-3", "phones", "d")
    assert calls.count("generate_data_key") == 3  # used up: a fresh data key

    crypto.clear_cache()
    crypto.decrypt("shop-a", "cu-1", "phones", first)
    assert calls[-1] == "decrypt"  # a cold instance asks KMS once


def test_the_lookup_hash_is_keyed_per_shop_and_kind_and_never_the_value(kefu_env):
    digest = crypto.lookup_hash("shop-a", "phone", "13812345678")
    assert digest == crypto.lookup_hash("shop-a", "phone", "13812345678")
    assert "13812345678" not in digest and len(digest) == 32
    assert digest != crypto.lookup_hash("shop-b", "phone", "13812345678")
    assert digest != crypto.lookup_hash("shop-a", "real_name", "13812345678")
