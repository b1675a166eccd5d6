"""Field-level envelope encryption of a customer's personal fields, and keyed hashes to find
them (docs/decisions.md "Personal fields: envelope encryption and keyed hashes").

- A data key comes from KMS (GenerateDataKey on CUSTOMER_DATA_KEY_ID) with the shop as the
  encryption context, so a data key of one shop cannot be decrypted as another's. The plaintext
  key is cached in the instance for at most DATA_KEY_MAX_AGE seconds and DATA_KEY_MAX_USES
  encryptions, then a new one is asked for; decrypted data keys are cached (bounded) by their
  encrypted form, so a warm read of a profile makes no KMS call.
- A field is AES-256-GCM under that key, with the shop, the customer and the field name as
  associated data: a ciphertext copied onto another customer or field does not decrypt.
- The envelope is text: "kefu1.<encrypted data key>.<nonce>.<ciphertext>" (URL-safe base64).
- `lookup_hash` is an HMAC-SHA256 with a per-deployment secret (CUSTOMER_LOOKUP_SECRET_ARN,
  Secrets Manager) over the shop, the kind and the normalised value: phone search without the
  number in any key or index, and no dictionary attack on a leaked table without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from kefu import caches
from kefu.aws import client

VERSION = "kefu1"
DATA_KEY_MAX_AGE = 300.0  # seconds a generated data key encrypts before a new one is used
DATA_KEY_MAX_USES = 10_000
DECRYPTED_KEYS_MAX = 256  # decrypted data keys kept per instance (LRU)
DECRYPTED_KEY_MAX_AGE = 900.0


class DecryptionFailed(Exception):
    """An envelope that is not kefu's, altered, or bound to another shop, customer or field."""


@dataclass
class _DataKey:
    plaintext: bytes
    encrypted: bytes
    expires: float
    uses: int = 0


_lock = threading.Lock()
_encrypting: dict[str, _DataKey] = {}
_decrypted: OrderedDict[tuple[str, bytes], tuple[bytes, float]] = OrderedDict()


def _key_id() -> str:
    key_id = os.environ.get("CUSTOMER_DATA_KEY_ID", "")
    if not key_id:
        raise RuntimeError("CUSTOMER_DATA_KEY_ID is not set: the customers' KMS key")
    return key_id


def _context(shop_id: str) -> dict[str, str]:
    return {"shop_id": shop_id}


def _data_key(shop_id: str) -> _DataKey:
    now = time.monotonic()
    with _lock:
        key = _encrypting.get(shop_id)
        if key is not None and key.expires > now and key.uses < DATA_KEY_MAX_USES:
            key.uses += 1
            return key
    made = client("kms").generate_data_key(
        KeyId=_key_id(), KeySpec="AES_256", EncryptionContext=_context(shop_id)
    )
    key = _DataKey(made["Plaintext"], made["CiphertextBlob"], now + DATA_KEY_MAX_AGE, uses=1)
    with _lock:
        _encrypting[shop_id] = key
        _remember(shop_id, key.encrypted, key.plaintext, now)
    return key


def _remember(shop_id: str, encrypted: bytes, plaintext: bytes, now: float) -> None:
    _decrypted[(shop_id, encrypted)] = (plaintext, now + DECRYPTED_KEY_MAX_AGE)
    _decrypted.move_to_end((shop_id, encrypted))
    while len(_decrypted) > DECRYPTED_KEYS_MAX:
        _decrypted.popitem(last=False)


def _plaintext_key(shop_id: str, encrypted: bytes) -> bytes:
    now = time.monotonic()
    with _lock:
        hit = _decrypted.get((shop_id, encrypted))
        if hit is not None and hit[1] > now:
            _decrypted.move_to_end((shop_id, encrypted))
            return hit[0]
    try:
        plaintext = client("kms").decrypt(
            CiphertextBlob=encrypted, EncryptionContext=_context(shop_id), KeyId=_key_id()
        )["Plaintext"]
    except client("kms").exceptions.InvalidCiphertextException:
        raise DecryptionFailed("the data key is not this shop's") from None
    with _lock:
        _remember(shop_id, encrypted, plaintext, now)
    return plaintext


def _aad(shop_id: str, customer_id: str, field: str) -> bytes:
    return "\0".join((shop_id, customer_id, field)).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt(shop_id: str, customer_id: str, field: str, plaintext: str) -> str:
    """The envelope of `plaintext` for this customer's `field`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _data_key(shop_id)
    nonce = os.urandom(12)
    sealed = AESGCM(key.plaintext).encrypt(
        nonce, plaintext.encode(), _aad(shop_id, customer_id, field)
    )
    return ".".join((VERSION, _b64(key.encrypted), _b64(nonce), _b64(sealed)))


def decrypt(shop_id: str, customer_id: str, field: str, envelope: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    parts = envelope.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise DecryptionFailed("not a kefu envelope")
    try:
        encrypted, nonce, sealed = (_unb64(p) for p in parts[1:])
    except ValueError:
        raise DecryptionFailed("not a kefu envelope") from None
    key = _plaintext_key(shop_id, encrypted)
    try:
        opened = AESGCM(key).decrypt(nonce, sealed, _aad(shop_id, customer_id, field))
    except InvalidTag:
        raise DecryptionFailed("the envelope was altered or belongs elsewhere") from None
    return opened.decode()


# ----------------------------------------------------------------------------- keyed hashes

_LOOKUP_TTL = 300.0
_lookup_secret: list[tuple[bytes, float]] = []


def _secret() -> bytes:
    now = time.monotonic()
    if _lookup_secret and _lookup_secret[0][1] > now:
        return _lookup_secret[0][0]
    from kefu.secrets import secret_string

    arn = os.environ.get("CUSTOMER_LOOKUP_SECRET_ARN", "")
    if not arn:
        raise RuntimeError("CUSTOMER_LOOKUP_SECRET_ARN is not set: the keyed-hash secret")
    value = secret_string(arn).encode()
    _lookup_secret[:] = [(value, now + _LOOKUP_TTL)]
    return value


def lookup_hash(shop_id: str, kind: str, normalised: str) -> str:
    """The keyed hash a value is found by (hex, 32 characters: 128 bits are plenty for equality
    within one shop). `normalised`: as kefu.customers.fields normalises that kind of value."""
    message = "\0".join((shop_id, kind, normalised)).encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()[:32]


def clear_cache() -> None:
    with _lock:
        _encrypting.clear()
        _decrypted.clear()
    _lookup_secret.clear()


caches.register("kefu.customers.crypto", clear_cache)
