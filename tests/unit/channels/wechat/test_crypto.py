"""WeChat message crypto, checked against WeChat's published vectors and an independent model."""

import base64
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from kefu.channels.wechat.crypto import (
    WeChatCrypto,
    WeChatCryptoError,
    sha1_signature,
    signature_matches,
)

# Mini-program docs, 消息推送 → "消息解密方式为安全模式" worked example.
DOC_TOKEN = "AAAAA"
DOC_KEY = "A" * 43
DOC_APPID = "wxba5fad812f8e6fb9"
DOC_TIMESTAMP = "1714112445"
DOC_NONCE = "415670741"
DOC_MSG_SIGNATURE = "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
DOC_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJG"
    "QqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrf"
    "MZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgR"
    "tWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
)
DOC_MESSAGE = (
    '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    '"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)


@pytest.fixture
def doc_crypto() -> WeChatCrypto:
    return WeChatCrypto(DOC_TOKEN, DOC_KEY, DOC_APPID)


def reference_encrypt(key43: str, appid: str, message: str, prefix: bytes) -> str:
    """Independent model of the spec, sharing no code with the implementation."""
    key = base64.b64decode(key43 + "=")
    body = message.encode("utf-8")
    plain = prefix + struct.pack(">I", len(body)) + body + appid.encode("utf-8")
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def raw_encrypt(key43: str, plain: bytes) -> str:
    """AES-CBC over exactly ``plain`` (no framing), to build malformed ciphertexts."""
    key = base64.b64decode(key43 + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


class TestSignatures:
    def test_url_verification_signature_matches_the_docs_example(self):
        assert (
            sha1_signature("AAAAA", "1714036504", "1514711492")
            == "f464b24fc39322e44b38aa78f5edd27bd1441696"
        )

    def test_plain_push_signature_matches_the_docs_example(self):
        assert (
            sha1_signature("AAAAA", "1714037059", "486452656")
            == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
        )

    def test_msg_signature_covers_the_ciphertext_as_in_the_docs_example(self):
        assert sha1_signature(DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE, DOC_ENCRYPT) == DOC_MSG_SIGNATURE

    def test_signature_does_not_depend_on_argument_order(self):
        assert sha1_signature("b", "a", "c") == sha1_signature("c", "b", "a")

    def test_signature_matches_accepts_the_right_signature(self):
        assert signature_matches(
            DOC_MSG_SIGNATURE, DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE, DOC_ENCRYPT
        )

    def test_signature_matches_rejects_a_wrong_signature(self):
        assert not signature_matches("0" * 40, DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE)

    @pytest.mark.parametrize("expected", [None, ""])
    def test_signature_matches_rejects_a_missing_signature(self, expected):
        assert not signature_matches(expected, DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE)

    def test_signature_matches_rejects_non_ascii_input_without_raising(self):
        assert not signature_matches("签名", DOC_TOKEN, DOC_TIMESTAMP, DOC_NONCE)


class TestOfficialVectors:
    def test_decrypts_the_docs_push_to_message_and_appid(self, doc_crypto):
        assert doc_crypto.decrypt(DOC_ENCRYPT) == (DOC_MESSAGE, DOC_APPID)

    def test_encrypts_the_docs_reply_byte_for_byte_given_its_random_prefix(self, doc_crypto):
        encrypted = doc_crypto.encrypt(
            '{"demo_resp":"good luck"}', random_prefix=b"707722b803182950"
        )
        assert encrypted == (
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L3"
            "2tmxSQ=="
        )

    def test_reply_signature_matches_the_docs_example(self):
        encrypted = (
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L3"
            "2tmxSQ=="
        )
        assert (
            sha1_signature(DOC_TOKEN, "1713424427", "415670741", encrypted)
            == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
        )

    def test_encrypts_utf8_chinese_like_tencents_sample_code(self):
        # Vector from Tencent's WXBizMsgCrypt sample (Java test), random prefix fixed.
        crypto = WeChatCrypto(
            "pamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6"
        )
        assert crypto.encrypt("我是中文abcd123", random_prefix=b"aaaabbbbccccdddd") == (
            "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
        )


class TestRoundTrip:
    @pytest.mark.parametrize(
        "message",
        ["", "x", "a" * 31, "b" * 32, "c" * 1000, '{"Content":"你好，世界 👋"}'],
    )
    def test_decrypt_returns_what_encrypt_was_given(self, doc_crypto, message):
        assert doc_crypto.decrypt(doc_crypto.encrypt(message)) == (message, DOC_APPID)

    def test_each_encryption_uses_a_fresh_random_prefix(self, doc_crypto):
        assert doc_crypto.encrypt("same") != doc_crypto.encrypt("same")

    def test_decrypts_what_an_independent_implementation_encrypted(self, doc_crypto):
        encrypted = reference_encrypt(DOC_KEY, DOC_APPID, "客服消息 ok", os.urandom(16))
        assert doc_crypto.decrypt(encrypted) == ("客服消息 ok", DOC_APPID)

    def test_decrypt_reports_the_appid_it_was_encrypted_for(self, doc_crypto):
        encrypted = reference_encrypt(DOC_KEY, "wxOTHERAPP", "hi", os.urandom(16))
        assert doc_crypto.decrypt(encrypted) == ("hi", "wxOTHERAPP")

    def test_encrypt_reply_is_signed_over_its_own_ciphertext(self, doc_crypto):
        reply = doc_crypto.encrypt_reply("success", 1713424427, "415670741")
        assert set(reply) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        assert reply["TimeStamp"] == 1713424427
        assert reply["Nonce"] == "415670741"
        assert reply["MsgSignature"] == sha1_signature(
            DOC_TOKEN, "1713424427", "415670741", reply["Encrypt"]
        )
        assert doc_crypto.decrypt(reply["Encrypt"]) == ("success", DOC_APPID)


class TestKeyValidation:
    @pytest.mark.parametrize("key", ["", "A" * 42, "A" * 44])
    def test_rejects_a_key_that_is_not_43_characters(self, key):
        with pytest.raises(WeChatCryptoError, match="43 characters"):
            WeChatCrypto("t", key, "wx1")

    def test_rejects_a_key_with_non_base64_characters(self):
        with pytest.raises(WeChatCryptoError, match="base64"):
            WeChatCrypto("t", "!" * 43, "wx1")

    def test_rejects_a_random_prefix_of_the_wrong_length(self, doc_crypto):
        with pytest.raises(WeChatCryptoError, match="16 bytes"):
            doc_crypto.encrypt("x", random_prefix=b"short")


class TestDecryptFailures:
    def test_rejects_text_that_is_not_base64(self, doc_crypto):
        with pytest.raises(WeChatCryptoError, match="base64"):
            doc_crypto.decrypt("not base64!")

    def test_rejects_a_ciphertext_that_is_not_whole_blocks(self, doc_crypto):
        with pytest.raises(WeChatCryptoError, match="multiple"):
            doc_crypto.decrypt(base64.b64encode(b"x" * 20).decode())

    def test_rejects_an_empty_ciphertext(self, doc_crypto):
        with pytest.raises(WeChatCryptoError, match="multiple"):
            doc_crypto.decrypt("")

    def test_rejects_a_ciphertext_made_with_another_key_as_bad_padding(self):
        other = WeChatCrypto(DOC_TOKEN, "B" * 43, DOC_APPID)
        # 1-in-~256 chance that a wrong key yields valid-looking padding; pin the vector instead.
        with pytest.raises(WeChatCryptoError, match="padding"):
            other.decrypt(DOC_ENCRYPT)

    @pytest.mark.parametrize("pad_byte", [0, 33])
    def test_rejects_padding_bytes_outside_1_to_32(self, doc_crypto, pad_byte):
        plain = os.urandom(16) + struct.pack(">I", 1) + b"x" + b"wx" + bytes([pad_byte]) * 9
        with pytest.raises(WeChatCryptoError, match="padding"):
            doc_crypto.decrypt(raw_encrypt(DOC_KEY, plain))

    def test_rejects_inconsistent_padding_bytes(self, doc_crypto):
        plain = os.urandom(16) + struct.pack(">I", 1) + b"x" + b"w" + b"\x01" * 9 + b"\x0b"
        with pytest.raises(WeChatCryptoError, match="padding"):
            doc_crypto.decrypt(raw_encrypt(DOC_KEY, plain))

    def test_rejects_a_payload_shorter_than_its_header(self, doc_crypto):
        plain = b"r" * 10 + bytes([22]) * 22
        with pytest.raises(WeChatCryptoError, match="shorter"):
            doc_crypto.decrypt(raw_encrypt(DOC_KEY, plain))

    def test_rejects_a_declared_length_beyond_the_payload(self, doc_crypto):
        plain = os.urandom(16) + struct.pack(">I", 500) + b"tiny" + bytes([8]) * 8
        with pytest.raises(WeChatCryptoError, match="exceeds"):
            doc_crypto.decrypt(raw_encrypt(DOC_KEY, plain))

    def test_rejects_a_message_that_is_not_utf8(self, doc_crypto):
        plain = os.urandom(16) + struct.pack(">I", 2) + b"\xff\xfe" + b"wx1" + bytes([7]) * 7
        with pytest.raises(WeChatCryptoError, match="UTF-8"):
            doc_crypto.decrypt(raw_encrypt(DOC_KEY, plain))

    def test_crypto_errors_are_value_errors(self):
        assert issubclass(WeChatCryptoError, ValueError)
