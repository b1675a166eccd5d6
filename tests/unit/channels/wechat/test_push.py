"""Parsing and authenticating WeChat customer-service pushes, in both formats and both modes."""

import json
from contextlib import contextmanager

import pytest
from kefu.channels.wechat.crypto import WeChatCrypto, sha1_signature
from kefu.channels.wechat.push import (
    MAX_BODY_BYTES,
    InboundPush,
    PushRejected,
    build_push,
    effective_push_mode,
    open_push,
    parse_body,
    verify_url,
)

TOKEN = "AAAAA"
KEY = "A" * 43
APPID = "wxba5fad812f8e6fb9"

TEXT = {
    "ToUserName": "gh_97417a04a28d",
    "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
    "CreateTime": 1482048670,
    "MsgType": "text",
    "Content": "你好，我的订单还没到",
    "MsgId": 6054768590064713728,  # > 2**53: must survive as an exact string
}
IMAGE = {
    "ToUserName": "gh_97417a04a28d",
    "FromUserName": "oUser",
    "CreateTime": 1482048670,
    "MsgType": "image",
    "PicUrl": "https://mmbiz.qpic.cn/x",
    "MediaId": "media_id",
    "MsgId": 1234567890123456,
}
CARD = {
    "ToUserName": "gh_97417a04a28d",
    "FromUserName": "oUser",
    "CreateTime": 1482048670,
    "MsgType": "miniprogrampage",
    "MsgId": 1234567890123456,
    "Title": "商品",
    "AppId": "wxapp",
    "PagePath": "pages/item?id=1",
    "ThumbUrl": "https://thumb",
    "ThumbMediaId": "thumbid",
}
ENTER = {
    "ToUserName": "gh_97417a04a28d",
    "FromUserName": "oUser",
    "CreateTime": 1482048671,
    "MsgType": "event",
    "Event": "user_enter_tempsession",
    "SessionFrom": "order:42",
}


def push(message, *, fmt="json", secure=False, **kw):
    """Build a push as WeChat sends it and open it as the webhook would: a secure push for a
    shop with an EncodingAESKey, a plain one for a shop without."""
    query, body, ctype = build_push(
        message, fmt=fmt, token=TOKEN, appid=APPID, encoding_aes_key=KEY, secure=secure
    )
    key = KEY if secure else None
    return open_push(query, body, ctype, token=TOKEN, encoding_aes_key=key, appid=APPID, **kw)


@contextmanager
def rejected(status, match=None):
    """Expect PushRejected with this HTTP status (and message pattern)."""
    with pytest.raises(PushRejected, match=match) as exc:
        yield exc
    assert exc.value.status == status


class TestDocsVectors:
    def test_opens_the_docs_secure_mode_json_push(self):
        # Mini-program docs, 消息推送, "消息解密方式为安全模式" example, verbatim.
        query = {
            "signature": "6c5c811b55cc85e0e1b54100749188c20beb3f5d",
            "timestamp": "1714112445",
            "nonce": "415670741",
            "openid": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
            "encrypt_type": "aes",
            "msg_signature": "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
        }
        body = json.dumps(
            {
                "ToUserName": "gh_97417a04a28d",
                "Encrypt": "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05J"
                "Cpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yF"
                "yjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2k"
                "m32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=",
            }
        ).encode()
        got = open_push(
            query,
            body,
            "application/json",
            token=TOKEN,
            encoding_aes_key=KEY,
            appid=APPID,
            now=1714112445,
        )
        assert got.msg_type == "event"
        assert got.event == "debug_demo"
        assert got.from_user == "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"
        assert got.create_time == 1714112445
        assert got.raw["debug_str"] == "hello world"

    def test_opens_the_docs_plain_mode_json_push(self):
        query = {
            "signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
            "timestamp": "1714037059",
            "nonce": "486452656",
        }
        body = (
            b'{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
            b'"CreateTime":1714037059,"MsgType":"event","Event":"debug_demo",'
            b'"debug_str":"hello world"}'
        )
        got = open_push(
            query,
            body,
            "application/json",
            token=TOKEN,
            encoding_aes_key=None,
            appid=APPID,
            now=1714037059,
        )
        assert (got.event, got.create_time) == ("debug_demo", 1714037059)

    def test_opens_tencents_sample_secure_mode_xml_push(self):
        # Vector from Tencent's WXBizMsgCrypt sample code (token spamtest).
        encrypt = (
            "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4"
            "x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwo"
            "n8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSV"
            "CZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+"
            "C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2P"
            "E="
        )
        body = (
            "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
        query = {
            "timestamp": "1409735669",
            "nonce": "1320562132",
            "encrypt_type": "aes",
            "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        }
        got = open_push(
            query,
            body,
            "text/xml",
            token="spamtest",
            encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            appid="wx2c2769f8efd9abc2",
            now=1409735669,
        )
        assert got.content == {"text": "abcdteT"}
        assert got.msg_id == "6054768590064713728"
        assert got.from_user == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


class TestMessageTypes:
    @pytest.mark.parametrize("fmt", ["json", "xml"])
    @pytest.mark.parametrize("secure", [False, True])
    def test_text_message_arrives_identically_in_every_format_and_mode(self, fmt, secure):
        got = push(TEXT, fmt=fmt, secure=secure)
        assert got == InboundPush(
            to_user="gh_97417a04a28d",
            from_user="o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
            create_time=1482048670,
            msg_type="text",
            msg_id="6054768590064713728",
            event=None,
            session_from=None,
            content={"text": "你好，我的订单还没到"},
            raw=got.raw,
        )

    def test_image_message_exposes_pic_url_and_media_id(self):
        assert push(IMAGE).content == {"pic_url": "https://mmbiz.qpic.cn/x", "media_id": "media_id"}

    @pytest.mark.parametrize("fmt", ["json", "xml"])
    def test_miniprogram_card_exposes_its_page(self, fmt):
        assert push(CARD, fmt=fmt).content == {
            "title": "商品",
            "app_id": "wxapp",
            "page_path": "pages/item?id=1",
            "thumb_url": "https://thumb",
            "thumb_media_id": "thumbid",
        }

    @pytest.mark.parametrize("fmt", ["json", "xml"])
    def test_enter_session_event_exposes_event_and_session_from(self, fmt):
        got = push(ENTER, fmt=fmt)
        assert (got.msg_type, got.event, got.session_from) == (
            "event",
            "user_enter_tempsession",
            "order:42",
        )
        assert got.content == {"event": "user_enter_tempsession", "session_from": "order:42"}
        assert got.msg_id is None

    def test_unknown_message_types_are_kept_raw_with_empty_content(self):
        voice = {**IMAGE, "MsgType": "voice", "Format": "amr"}
        got = push(voice)
        assert (got.msg_type, got.content, got.raw["Format"]) == ("voice", {}, "amr")

    def test_cloud_style_string_msgid_is_kept_verbatim(self):
        got = push({**TEXT, "MsgId": "49d72d67b16d115e7935ac386f2f0fa41535298877_1555684067"})
        assert got.msg_id == "49d72d67b16d115e7935ac386f2f0fa41535298877_1555684067"


class TestDedupeKey:
    def test_messages_dedupe_on_msgid(self):
        assert push(TEXT).dedupe_key == "msg:6054768590064713728"

    def test_events_dedupe_on_sender_and_create_time(self):
        assert push(ENTER).dedupe_key == "evt:oUser:1482048671"

    def test_a_retried_push_has_the_same_key_despite_new_timestamp_and_nonce(self):
        first = push(TEXT, fmt="xml", secure=True)
        retry = push(TEXT, fmt="xml", secure=True)
        assert first.dedupe_key == retry.dedupe_key


class TestPlainModeAuthentication:
    def test_rejects_a_wrong_signature_with_401(self):
        query, body, ctype = build_push(TEXT, fmt="json", token="other-token", appid=APPID)
        with rejected(401, "signature does not match"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=None, appid=APPID)

    @pytest.mark.parametrize("param", ["signature", "timestamp", "nonce"])
    def test_rejects_a_missing_signature_param_with_401_naming_it(self, param):
        query, body, ctype = build_push(TEXT, fmt="json", token=TOKEN, appid=APPID)
        del query[param]
        with rejected(401, param):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=None, appid=APPID)

    def test_rejects_an_encrypted_body_without_encrypt_type(self):
        query, body, ctype = build_push(
            TEXT, fmt="json", token=TOKEN, appid=APPID, encoding_aes_key=KEY, secure=True
        )
        for name in ("encrypt_type", "msg_signature"):
            del query[name]
        with rejected(400, "encrypt_type=aes"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=None, appid=APPID)

    def test_rejects_an_unknown_encrypt_type(self):
        query, body, ctype = build_push(TEXT, fmt="json", token=TOKEN, appid=APPID)
        query["encrypt_type"] = "rsa"
        with rejected(400, "rsa"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=KEY, appid=APPID)


class TestSecureModeAuthentication:
    def secure(self, message=TEXT, fmt="json", appid=APPID, token=TOKEN):
        return build_push(
            message, fmt=fmt, token=token, appid=appid, encoding_aes_key=KEY, secure=True
        )

    def test_query_carries_encrypt_type_and_msg_signature_and_body_only_the_envelope(self):
        query, body, _ = self.secure()
        assert query["encrypt_type"] == "aes"
        assert set(json.loads(body)) == {"ToUserName", "Encrypt"}
        assert query["msg_signature"] == sha1_signature(
            TOKEN, query["timestamp"], query["nonce"], json.loads(body)["Encrypt"]
        )

    def test_rejects_a_wrong_msg_signature_with_401(self):
        query, body, ctype = self.secure()
        query["msg_signature"] = "0" * 40
        with rejected(401, "msg_signature"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=KEY, appid=APPID)

    def test_rejects_a_tampered_ciphertext_with_401(self):
        query, body, ctype = self.secure()
        envelope = json.loads(body)
        envelope["Encrypt"] = WeChatCrypto(TOKEN, KEY, APPID).encrypt(json.dumps(IMAGE))
        with rejected(401):
            open_push(
                query,
                json.dumps(envelope).encode(),
                ctype,
                token=TOKEN,
                encoding_aes_key=KEY,
                appid=APPID,
            )

    @pytest.mark.parametrize("param", ["msg_signature", "timestamp", "nonce"])
    def test_rejects_a_missing_secure_param_with_401_naming_it(self, param):
        query, body, ctype = self.secure()
        del query[param]
        with rejected(401, param):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=KEY, appid=APPID)

    def test_rejects_a_message_encrypted_for_another_appid_with_403(self):
        query, body, ctype = self.secure(appid="wxSOMEONEELSE")
        with rejected(403, "wxSOMEONEELSE"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=KEY, appid=APPID)

    def test_rejects_a_ciphertext_under_another_key_with_400_pointing_at_the_key(self):
        query, body, ctype = self.secure()
        with rejected(400, "EncodingAESKey"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key="B" * 43, appid=APPID)

    def test_rejects_a_secure_push_when_no_key_is_configured_as_our_error(self):
        query, body, ctype = self.secure()
        with rejected(500, "EncodingAESKey"):
            open_push(query, body, ctype, token=TOKEN, encoding_aes_key=None, appid=APPID)

    def test_rejects_a_secure_push_whose_body_has_no_encrypt(self):
        query, _, ctype = self.secure()
        with rejected(400, "Encrypt"):
            open_push(
                query,
                json.dumps(TEXT).encode(),
                ctype,
                token=TOKEN,
                encoding_aes_key=KEY,
                appid=APPID,
            )

    def test_xml_envelope_holds_an_xml_message(self):
        query, body, ctype = self.secure(fmt="xml")
        assert ctype == "text/xml"
        assert body.startswith(
            b"<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt>"
        )
        inner, _ = WeChatCrypto(TOKEN, KEY, APPID).decrypt(
            body.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
        )
        assert inner.startswith("<xml>")

    def test_compatible_mode_body_with_plaintext_and_encrypt_is_opened_from_the_ciphertext(self):
        query, body, ctype = self.secure()
        envelope = {**json.loads(body), **IMAGE}  # plaintext fields that disagree are ignored
        got = open_push(
            query,
            json.dumps(envelope).encode(),
            ctype,
            token=TOKEN,
            encoding_aes_key=KEY,
            appid=APPID,
            mode="compatible",
        )
        assert got.msg_type == "text"


class TestVerifyUrl:
    def test_returns_echostr_for_the_docs_example(self):
        query = {
            "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
            "echostr": "4375120948345356249",
            "timestamp": "1714036504",
            "nonce": "1514711492",
        }
        assert verify_url(query, token="AAAAA") == "4375120948345356249"

    def test_rejects_a_wrong_signature_with_401(self):
        query = {"signature": "0" * 40, "echostr": "e", "timestamp": "1", "nonce": "2"}
        with rejected(401):
            verify_url(query, token="AAAAA")

    @pytest.mark.parametrize("param", ["signature", "timestamp", "nonce", "echostr"])
    def test_rejects_missing_params_with_400_naming_them(self, param):
        query = {"signature": "s", "echostr": "e", "timestamp": "1", "nonce": "2"}
        del query[param]
        with rejected(400, param):
            verify_url(query, token="AAAAA")


class TestParseBody:
    def test_detects_json_by_content_type(self):
        assert (
            parse_body(json.dumps(TEXT).encode(), "application/json; charset=utf-8")["Content"]
            == TEXT["Content"]
        )

    @pytest.mark.parametrize("ctype", [None, "", "application/octet-stream"])
    def test_sniffs_json_and_xml_when_content_type_does_not_say(self, ctype):
        assert parse_body(
            b'  \n{"ToUserName":"a","FromUserName":"b","CreateTime":1,"MsgType":"text"}', ctype
        )
        xml = b"\n <xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        xml += b"<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"
        assert parse_body(xml, ctype)["CreateTime"] == 1

    def test_parses_the_docs_xml_text_message(self):
        xml = b"""<xml>
           <ToUserName><![CDATA[toUser]]></ToUserName>
           <FromUserName><![CDATA[fromUser]]></FromUserName>
           <CreateTime>1482048670</CreateTime>
           <MsgType><![CDATA[text]]></MsgType>
           <Content><![CDATA[this is a test]]></Content>
           <MsgId>1234567890123456</MsgId>
        </xml>"""
        assert parse_body(xml, "text/xml") == {
            "ToUserName": "toUser",
            "FromUserName": "fromUser",
            "CreateTime": 1482048670,
            "MsgType": "text",
            "Content": "this is a test",
            "MsgId": "1234567890123456",
        }

    def test_accepts_an_encrypted_envelope_with_only_tousername_and_encrypt(self):
        assert parse_body(b'{"ToUserName":"gh","Encrypt":"abc"}', "application/json") == {
            "ToUserName": "gh",
            "Encrypt": "abc",
        }

    def test_rejects_an_unrecognisable_body(self):
        with rejected(400, "format"):
            parse_body(b"hello", "text/plain")

    @pytest.mark.parametrize("body", [b"[1,2]", b'"text"', b"42", b"null"])
    def test_rejects_json_that_is_not_an_object(self, body):
        with rejected(400, "object"):
            parse_body(body, "application/json")

    def test_rejects_invalid_json(self):
        with rejected(400, "not valid JSON"):
            parse_body(b'{"ToUserName":', "application/json")

    def test_rejects_a_body_that_is_not_utf8(self):
        with rejected(400, "UTF-8"):
            parse_body(b'{"a":"\xff"}', "application/json")

    def test_rejects_malformed_xml(self):
        with rejected(400, "XML"):
            parse_body(b"<xml><ToUserName>a</xml>", "text/xml")

    def test_rejects_xml_with_a_different_root(self):
        with rejected(400, "<xml>"):
            parse_body(b"<msg><ToUserName>a</ToUserName></msg>", "text/xml")

    def test_refuses_entity_expansion_attacks(self):
        bomb = (
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<xml><ToUserName>&b;</ToUserName></xml>"
        )
        with rejected(400, "XML"):
            parse_body(bomb, "text/xml")

    def test_refuses_external_entities(self):
        xxe = (
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<xml><ToUserName>&x;</ToUserName></xml>"
        )
        with rejected(400, "XML"):
            parse_body(xxe, "text/xml")

    def test_rejects_bodies_over_64_kib_with_413(self):
        body = b'{"Content":"' + b"x" * MAX_BODY_BYTES + b'"}'
        with rejected(413, "limit"):
            parse_body(body, "application/json")

    @pytest.mark.parametrize("field", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
    def test_rejects_a_message_missing_a_required_field_naming_it(self, field):
        message = {k: v for k, v in TEXT.items() if k != field}
        with rejected(400, f"missing required field {field}"):
            parse_body(json.dumps(message).encode(), "application/json")

    def test_rejects_an_envelope_missing_tousername(self):
        with rejected(400, "ToUserName"):
            parse_body(b'{"Encrypt":"abc"}', "application/json")

    @pytest.mark.parametrize("value", ["1482048670", 1482048670.5, True, None])
    def test_rejects_a_json_createtime_that_is_not_an_integer(self, value):
        message = {**TEXT, "CreateTime": value}
        with rejected(400, "CreateTime must be an integer"):
            parse_body(json.dumps(message).encode(), "application/json")

    def test_rejects_an_xml_createtime_that_is_not_digits(self):
        xml = b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        xml += b"<CreateTime>yesterday</CreateTime><MsgType>text</MsgType></xml>"
        with rejected(400, "CreateTime"):
            parse_body(xml, "text/xml")

    @pytest.mark.parametrize("field", ["ToUserName", "FromUserName", "MsgType"])
    def test_rejects_a_non_string_identity_field(self, field):
        with rejected(400, field):
            parse_body(json.dumps({**TEXT, field: 7}).encode(), "application/json")

    def test_open_push_rejects_a_text_message_without_content(self):
        with rejected(400, "Content"):
            push({k: v for k, v in TEXT.items() if k != "Content"})

    def test_open_push_rejects_an_event_without_event(self):
        with rejected(400, "Event"):
            push({k: v for k, v in ENTER.items() if k != "Event"})

    def test_open_push_rejects_a_non_string_content(self):
        with rejected(400, "Content"):
            push({**TEXT, "Content": ["a"]})


class TestBuildPush:
    def test_plain_json_push_is_signed_and_names_the_sender_like_wechat(self):
        query, body, ctype = build_push(
            TEXT, fmt="json", token=TOKEN, appid=APPID, timestamp=1714037059, nonce="486452656"
        )
        assert ctype == "application/json"
        assert query == {
            "signature": sha1_signature(TOKEN, "1714037059", "486452656"),
            "timestamp": "1714037059",
            "nonce": "486452656",
            "openid": TEXT["FromUserName"],
        }
        assert json.loads(body) == TEXT
        assert "你好".encode() in body  # UTF-8, not \\u escapes

    def test_xml_push_writes_numbers_bare_and_strings_as_cdata(self):
        _, body, ctype = build_push(ENTER, fmt="xml", token=TOKEN, appid=APPID)
        assert ctype == "text/xml"
        assert b"<CreateTime>1482048671</CreateTime>" in body
        assert b"<Event><![CDATA[user_enter_tempsession]]></Event>" in body

    def test_xml_push_survives_cdata_terminators_in_text(self):
        got = push({**TEXT, "Content": "a]]>b<c>&"}, fmt="xml")
        assert got.content == {"text": "a]]>b<c>&"}

    def test_secure_push_needs_a_key(self):
        with pytest.raises(ValueError, match="encoding_aes_key"):
            build_push(TEXT, fmt="json", token=TOKEN, appid=APPID, secure=True)

    def test_rejects_an_unknown_format(self):
        with pytest.raises(ValueError, match="fmt"):
            build_push(TEXT, fmt="yaml", token=TOKEN, appid=APPID)  # type: ignore[arg-type]


# --- issue 8: the shop's push mode decides, timestamps are fresh ----------------------------


def _open(query, body, ctype, *, key=KEY, **kw):
    return open_push(query, body, ctype, token=TOKEN, encoding_aes_key=key, appid=APPID, **kw)


def _build(message=TEXT, *, mode, fmt="json", **kw):
    return build_push(
        message, fmt=fmt, token=TOKEN, appid=APPID, encoding_aes_key=KEY, mode=mode, **kw
    )


class TestPushMode:
    @pytest.mark.parametrize(
        ("stored", "has_key", "expected"),
        [
            (None, True, "secure"),
            (None, False, "plain"),
            ("plain", True, "secure"),  # a shop with a key is never plain
            ("plain", False, "plain"),
            ("compatible", True, "compatible"),
            ("secure", True, "secure"),
        ],
    )
    def test_effective_mode(self, stored, has_key, expected):
        assert effective_push_mode(stored, has_aes_key=has_key) == expected

    @pytest.mark.parametrize("stored", [None, "plain", "compatible", "secure"])
    @pytest.mark.parametrize("fmt", ["json", "xml"])
    def test_a_correctly_signed_plain_push_to_a_shop_with_an_aes_key_is_refused(self, stored, fmt):
        query, body, ctype = _build(mode="plain", fmt=fmt)
        with rejected(403, "secure|compatible") as exc:
            _open(query, body, ctype, mode=stored)
        assert exc.value.reason == "encryption_required"

    def test_an_unsigned_or_forged_plain_push_to_a_secure_shop_is_still_a_401(self):
        query, body, ctype = build_push(TEXT, fmt="json", token="forged", appid=APPID)
        with rejected(401) as exc:
            _open(query, body, ctype, mode="secure")
        assert exc.value.reason == "bad_signature"

    def test_a_plain_push_is_accepted_only_without_an_aes_key(self):
        query, body, ctype = _build(mode="plain")
        assert _open(query, body, ctype, key=None, mode="plain").content == {
            "text": TEXT["Content"]
        }

    def test_secure_mode_takes_only_a_valid_msg_signature_not_the_plain_signature(self):
        query, body, ctype = _build(mode="secure")
        del query["msg_signature"]  # `signature` is still valid, and must not be enough
        with rejected(401, "msg_signature") as exc:
            _open(query, body, ctype, mode="secure")
        assert exc.value.reason == "missing_parameter"

    def test_secure_mode_refuses_a_body_that_also_carries_plaintext_fields(self):
        query, body, ctype = _build(mode="compatible")
        with rejected(400, "compatible") as exc:
            _open(query, body, ctype, mode="secure")
        assert exc.value.reason == "plaintext_in_secure_mode"

    @pytest.mark.parametrize("fmt", ["json", "xml"])
    def test_compatible_mode_ignores_the_plaintext_fields_and_uses_the_encrypted_copy(self, fmt):
        query, body, ctype = _build(mode="compatible", fmt=fmt)
        forged = {**TEXT, "FromUserName": "oSomeoneElse", "Content": "forged"}
        if fmt == "json":
            tampered = json.dumps({**forged, "Encrypt": json.loads(body)["Encrypt"]}).encode()
        else:
            encrypted = body.split(b"<Encrypt><![CDATA[")[1].split(b"]]>")[0].decode()
            tampered = build_push(
                {**forged, "Encrypt": encrypted}, fmt="xml", token=TOKEN, appid=APPID
            )[1]
        got = _open(query, tampered, ctype, mode="compatible")
        assert (got.from_user, got.content) == (TEXT["FromUserName"], {"text": TEXT["Content"]})
        assert "Encrypt" not in got.raw

    def test_compatible_mode_refuses_a_push_without_encrypt_type(self):
        query, body, ctype = _build(mode="compatible")
        del query["encrypt_type"], query["msg_signature"]
        with rejected(403) as exc:
            _open(query, body, ctype, mode="compatible")
        assert exc.value.reason == "encryption_required"


class TestFreshness:
    NOW = 1_800_000_000

    @pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
    @pytest.mark.parametrize("mode", ["plain", "secure"])
    def test_a_push_more_than_300_s_from_now_either_way_is_refused(self, offset, mode):
        query, body, ctype = _build(mode=mode, timestamp=self.NOW + offset)
        with rejected(401, "300 s") as exc:
            _open(query, body, ctype, key=None if mode == "plain" else KEY, now=self.NOW)
        assert exc.value.reason == "stale_timestamp"

    @pytest.mark.parametrize("offset", [-300, 0, 300])
    def test_a_push_within_300_s_is_accepted_and_carries_its_timestamp_and_nonce(self, offset):
        query, body, ctype = _build(mode="secure", timestamp=self.NOW + offset, nonce="12345")
        got = _open(query, body, ctype, now=self.NOW)
        assert (got.timestamp, got.nonce) == (self.NOW + offset, "12345")

    @pytest.mark.parametrize("timestamp", ["soon", "-5", "1e9", "１７００００００００"])
    def test_a_timestamp_that_is_not_unix_seconds_is_400(self, timestamp):
        query, body, ctype = _build(mode="secure", timestamp=timestamp)
        with rejected(400) as exc:
            _open(query, body, ctype, now=self.NOW)
        assert exc.value.reason == "bad_timestamp"

    def test_a_nonce_that_cannot_be_a_key_is_400(self):
        query, body, ctype = _build(mode="secure", nonce="a#b")
        with rejected(400) as exc:
            _open(query, body, ctype)
        assert exc.value.reason == "bad_nonce"

    def test_the_digest_is_of_the_message_so_a_re_encrypted_retry_has_the_same_one(self):
        first = _open(*_build(mode="secure"))
        retry = _open(*_build(mode="secure"))  # new random prefix: another ciphertext
        other = _open(*_build({**TEXT, "Content": "other"}, mode="secure"))
        assert first.digest == retry.digest != other.digest
