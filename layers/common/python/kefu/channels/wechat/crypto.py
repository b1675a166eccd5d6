"""WeChat message signatures and the AES envelope used by "secure mode" (安全模式) pushes.

Scheme (WeChat docs, 消息推送 / 消息加解密说明):
  * signature     = sha1(sorted([token, timestamp, nonce]) joined)
  * msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]) joined)
  * AESKey = base64_decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = AESKey[:16]
  * plaintext = random(16) + len(msg) as 4-byte big-endian + msg (UTF-8) + appid,
    PKCS#7-padded to a multiple of 32 bytes (not AES's 16: WeChat's choice, kept for interop).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["WeChatCrypto", "WeChatCryptoError", "sha1_signature", "signature_matches"]

_BLOCK = 32  # WeChat pads to 32 bytes, see module docstring
_RANDOM_LEN = 16
_LEN_FIELD = 4


class WeChatCryptoError(ValueError):
    """The key is unusable or a ciphertext cannot be decrypted/decoded."""


def sha1_signature(*parts: str) -> str:
    """SHA-1 hex digest of the parts sorted lexicographically and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str | None, *parts: str) -> bool:
    """Constant-time check of a WeChat signature; False when ``expected`` is None or empty."""
    if not expected:
        return False
    # Compare bytes: compare_digest refuses non-ASCII str, and a forged header may contain any.
    return hmac.compare_digest(expected.encode("utf-8"), sha1_signature(*parts).encode("utf-8"))


class WeChatCrypto:
    """Encrypts and decrypts WeChat message bodies for one (token, EncodingAESKey, appid)."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        self.token = token
        self.appid = appid
        self._key = _decode_key(encoding_aes_key)
        self._iv = self._key[:16]

    def decrypt(self, encrypt_b64: str) -> tuple[str, str]:
        """Decrypt an ``Encrypt`` value; returns ``(message, appid)``.

        The caller must compare the returned appid with its own: WeChat's scheme relies on it to
        tell messages for this app from ones encrypted with the same key for another.
        """
        try:
            data = base64.b64decode(encrypt_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WeChatCryptoError(f"Encrypt is not valid base64: {exc}") from exc
        if not data or len(data) % 16:
            raise WeChatCryptoError(
                f"ciphertext length {len(data)} is not a positive multiple of the AES block (16)"
            )
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()

        pad = padded[-1]
        if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError(
                "bad PKCS#7 padding after decryption: the EncodingAESKey is probably wrong"
            )
        plain = padded[:-pad]
        if len(plain) < _RANDOM_LEN + _LEN_FIELD:
            raise WeChatCryptoError("decrypted payload is shorter than its 20-byte header")
        (msg_len,) = struct.unpack(">I", plain[_RANDOM_LEN : _RANDOM_LEN + _LEN_FIELD])
        start = _RANDOM_LEN + _LEN_FIELD
        if msg_len > len(plain) - start:
            raise WeChatCryptoError(
                f"declared message length {msg_len} exceeds the {len(plain) - start} bytes present"
            )
        try:
            message = plain[start : start + msg_len].decode("utf-8")
            appid = plain[start + msg_len :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WeChatCryptoError(f"decrypted payload is not UTF-8: {exc}") from exc
        return message, appid

    def encrypt(self, message: str, *, random_prefix: bytes | None = None) -> str:
        """Encrypt ``message`` for this appid; returns base64 text.

        ``random_prefix`` (16 bytes) exists only to reproduce WeChat's published test vectors;
        leave it unset so a fresh random prefix is used.
        """
        prefix = os.urandom(_RANDOM_LEN) if random_prefix is None else random_prefix
        if len(prefix) != _RANDOM_LEN:
            raise WeChatCryptoError(f"random_prefix must be {_RANDOM_LEN} bytes, got {len(prefix)}")
        body = message.encode("utf-8")
        plain = prefix + struct.pack(">I", len(body)) + body + self.appid.encode("utf-8")
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def encrypt_reply(self, message: str, timestamp: int | str, nonce: str) -> dict[str, object]:
        """Build an encrypted passive reply: ``{"Encrypt","MsgSignature","TimeStamp","Nonce"}``.

        TimeStamp is an integer and Nonce a string, as in WeChat's JSON reply example.
        """
        encrypted = self.encrypt(message)
        ts = int(timestamp)
        return {
            "Encrypt": encrypted,
            "MsgSignature": sha1_signature(self.token, str(ts), nonce, encrypted),
            "TimeStamp": ts,
            "Nonce": nonce,
        }


def _decode_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise WeChatCryptoError(
            f"EncodingAESKey must be exactly 43 characters (got {len(encoding_aes_key)}); "
            "copy it again from the mini-program admin console (开发管理 → 消息推送)"
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WeChatCryptoError(f"EncodingAESKey is not base64 text: {exc}") from exc
    if len(key) != 32:  # pragma: no cover - 43 valid base64 chars always give 32 bytes
        raise WeChatCryptoError(f"EncodingAESKey decodes to {len(key)} bytes, expected 32")
    return key
