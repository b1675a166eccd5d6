"""WeChatApi against the WeChat stand-in over real loopback HTTP."""

import socket
import threading

import pytest
import urllib3
from kefu.channels.wechat.api import WeChatApi, WeChatApiError, WeChatUnavailable

from infra.local.wechat_standin import WeChatStandIn

APPID = "wx0000000000000001"
SECRET = "s3cr3t"
OPENID = "oUserOpenId000000000000000000"
SEND = "/cgi-bin/message/custom/send"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def server(clock):
    standin = WeChatStandIn(clock=clock)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def standin(server, clock):
    server.reset()
    server.add_app(APPID, SECRET)
    clock.now = 1_700_000_000.0
    return server


@pytest.fixture
def api(standin):
    return WeChatApi(standin.url)


@pytest.fixture
def token(api):
    return api.stable_token(APPID, SECRET)[0]


def text(content="hi", touser=OPENID):
    return {"touser": touser, "msgtype": "text", "text": {"content": content}}


class TestLogin:
    def test_code_exchange_returns_openid_session_key_and_unionid(self, api):
        session = api.jscode2session(APPID, SECRET, "code-alice")
        assert session["openid"] == WeChatStandIn.openid_for(APPID, "code-alice")
        assert session["unionid"] == WeChatStandIn.unionid_for("code-alice")
        assert len(session["session_key"]) == 24  # base64 of 16 bytes, like WeChat's

    def test_unionid_is_absent_when_the_app_is_not_bound_to_an_open_platform(self, api, standin):
        standin.add_app("wxunbound", "x", unionid=False)
        assert set(api.jscode2session("wxunbound", "x", "c")) == {"openid", "session_key"}

    def test_empty_code_is_a_bad_code(self, api):
        with pytest.raises(WeChatApiError) as exc:
            api.jscode2session(APPID, SECRET, "")
        assert (exc.value.errcode, exc.value.bad_code) == (40029, True)

    def test_reused_code_is_a_bad_code_when_codes_are_single_use(self):
        with WeChatStandIn(single_use_codes=True) as strict:
            strict.add_app(APPID, SECRET)
            api = WeChatApi(strict.url)
            api.jscode2session(APPID, SECRET, "once")
            with pytest.raises(WeChatApiError) as exc:
                api.jscode2session(APPID, SECRET, "once")
        assert (exc.value.errcode, exc.value.bad_code) == (40163, True)

    def test_blocked_high_risk_user_is_reported_as_user_blocked(self, api, standin):
        standin.fail_next("/sns/jscode2session", errcode=40226)
        with pytest.raises(WeChatApiError) as exc:
            api.jscode2session(APPID, SECRET, "c")
        assert exc.value.user_blocked
        assert not exc.value.retryable

    def test_wrong_secret_is_an_api_error_with_wechats_message(self, api):
        with pytest.raises(WeChatApiError, match="invalid appsecret") as exc:
            api.jscode2session(APPID, "wrong", "c")
        assert exc.value.errcode == 40125

    def test_unknown_appid_is_an_api_error(self, api):
        with pytest.raises(WeChatApiError) as exc:
            api.jscode2session("wxnobody", SECRET, "c")
        assert exc.value.errcode == 40013


class TestTokens:
    def test_stable_token_is_reused_until_it_nears_expiry(self, api, clock):
        first, expires_in = api.stable_token(APPID, SECRET)
        assert expires_in == 7200
        clock.now += 3600
        assert api.stable_token(APPID, SECRET) == (first, 3600)

    def test_force_refresh_issues_a_new_token_and_revokes_the_old_one(self, api):
        old, _ = api.stable_token(APPID, SECRET)
        new, _ = api.stable_token(APPID, SECRET, force_refresh=True)
        assert new != old
        api.send_custom_message(new, text())
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(old, text())
        assert (exc.value.errcode, exc.value.token_invalid) == (40001, True)

    def test_in_the_last_five_minutes_a_new_token_is_issued_and_the_old_stays_valid(
        self, api, clock
    ):
        old, _ = api.stable_token(APPID, SECRET)
        clock.now += 7200 - 200
        new, expires_in = api.stable_token(APPID, SECRET)
        assert (new != old, expires_in) == (True, 7200)
        api.send_custom_message(old, text())  # both usable during the handover
        api.send_custom_message(new, text())
        clock.now += 200
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(old, text())
        assert (exc.value.errcode, exc.value.token_invalid) == (42001, True)

    def test_expired_token_is_token_invalid_and_a_fresh_one_works(self, api, standin, token):
        standin.expire_tokens()
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, text())
        assert (exc.value.errcode, exc.value.token_invalid) == (42001, True)
        fresh, _ = api.stable_token(APPID, SECRET)
        assert fresh != token
        api.send_custom_message(fresh, text())

    def test_unknown_token_is_token_invalid(self, api):
        with pytest.raises(WeChatApiError) as exc:
            api.set_typing("not-a-token", OPENID, True)
        assert (exc.value.errcode, exc.value.token_invalid) == (40001, True)

    def test_invalid_access_token_40014_is_token_invalid(self, api, standin, token):
        standin.fail_next(SEND, errcode=40014)
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, text())
        assert exc.value.token_invalid

    def test_stable_token_is_requested_as_wechat_documents(self, api, standin):
        api.stable_token(APPID, SECRET)
        (request,) = standin.requests("/cgi-bin/stable_token")
        assert request["method"] == "POST"
        assert request["json"] == {
            "grant_type": "client_credential",
            "appid": APPID,
            "secret": SECRET,
            "force_refresh": False,
        }


class TestCustomerServiceMessages:
    def test_chinese_text_arrives_as_utf8_not_unicode_escapes(self, api, standin, token):
        api.send_custom_message(token, text("您好，订单已发货 📦"))
        (request,) = standin.requests(SEND)
        assert request["json"]["text"]["content"] == "您好，订单已发货 📦"
        assert "您好" in request["body"]
        assert "\\u" not in request["body"]

    def test_uploaded_image_can_be_sent_by_media_id(self, api, standin, token):
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
        media_id = api.upload_temp_media(token, "image", "商品.png", png, "image/png")
        api.send_custom_message(
            token, {"touser": OPENID, "msgtype": "image", "image": {"media_id": media_id}}
        )
        (upload,) = standin.requests("/cgi-bin/media/upload")
        assert upload["query"]["type"] == "image"
        (part,) = upload["multipart"]
        assert (part["field"], part["filename"], part["content_type"], part["size"]) == (
            "media",
            "商品.png",
            "image/png",
            len(png),
        )

    def test_image_with_unknown_media_id_is_rejected(self, api, token):
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(
                token, {"touser": OPENID, "msgtype": "image", "image": {"media_id": "nope"}}
            )
        assert exc.value.errcode == 40007

    def test_miniprogram_card_and_link_are_accepted(self, api, token):
        thumb = api.upload_temp_media(token, "image", "t.jpg", b"jpeg", "image/jpeg")
        api.send_custom_message(
            token,
            {
                "touser": OPENID,
                "msgtype": "miniprogrampage",
                "miniprogrampage": {
                    "title": "订单",
                    "pagepath": "pages/o?id=1",
                    "thumb_media_id": thumb,
                },
            },
        )
        api.send_custom_message(
            token,
            {
                "touser": OPENID,
                "msgtype": "link",
                "link": {"title": "t", "description": "d", "url": "https://x", "thumb_url": "u"},
            },
        )

    def test_missing_touser_is_invalid_openid(self, api, token):
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, {"msgtype": "text", "text": {"content": "x"}})
        assert exc.value.errcode == 40003

    def test_unknown_msgtype_is_rejected(self, api, token):
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, {"touser": OPENID, "msgtype": "voice"})
        assert exc.value.errcode == 40008

    def test_closed_48_hour_window_is_window_closed(self, api, standin, token):
        standin.fail_next(SEND, errcode=45015)
        with pytest.raises(WeChatApiError, match="response out of time limit") as exc:
            api.send_custom_message(token, text())
        assert exc.value.window_closed
        assert not exc.value.retryable

    def test_reply_quota_used_up_is_quota_exhausted(self, api, standin, token):
        standin.fail_next(SEND, errcode=45047)
        with pytest.raises(WeChatApiError, match="out of response count limit") as exc:
            api.send_custom_message(token, text())
        assert exc.value.quota_exhausted

    def test_typing_sends_wechats_commands(self, api, standin, token):
        api.set_typing(token, OPENID, True)
        api.set_typing(token, OPENID, False)
        commands = [r["json"]["command"] for r in standin.requests(WeChatApi.TYPING_PATH)]
        assert commands == ["Typing", "CancelTyping"]

    def test_subscribe_message_is_sent(self, api, standin, token):
        payload = {
            "touser": OPENID,
            "template_id": "tmpl",
            "page": "pages/index",
            "data": {"thing1": {"value": "您的工单已回复"}},
        }
        api.send_subscribe_message(token, payload)
        assert standin.requests("/cgi-bin/message/subscribe/send")[0]["json"] == payload

    def test_subscribe_message_without_template_is_rejected(self, api, token):
        with pytest.raises(WeChatApiError) as exc:
            api.send_subscribe_message(token, {"touser": OPENID, "data": {}})
        assert exc.value.errcode == 40037


class TestRetryClassification:
    @pytest.mark.parametrize("errcode", [45009, 45011])
    def test_rate_limits_are_retryable(self, api, standin, token, errcode):
        standin.fail_next(SEND, errcode=errcode)
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, text())
        assert exc.value.rate_limited and exc.value.retryable

    def test_system_busy_is_retryable(self, api, standin, token):
        standin.fail_next(SEND, errcode=-1)
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, text())
        assert exc.value.retryable and not exc.value.rate_limited

    def test_http_5xx_is_unavailable_and_the_next_call_succeeds(self, api, standin, token):
        standin.fail_next(SEND, http_status=503, times=2)
        for _ in range(2):
            with pytest.raises(WeChatUnavailable) as exc:
                api.send_custom_message(token, text())
            assert (exc.value.status, exc.value.retryable) == (503, True)
        api.send_custom_message(token, text())

    def test_non_json_answer_is_unavailable(self, api, standin, token):
        standin.fail_next(SEND, http_status=200)
        with pytest.raises(WeChatUnavailable, match="without a JSON object"):
            api.send_custom_message(token, text())

    def test_connection_refused_is_unavailable_without_leaking_the_token(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed again before use: nothing listens
        api = WeChatApi(f"http://127.0.0.1:{port}")
        with pytest.raises(WeChatUnavailable) as exc:
            api.send_custom_message("SECRET-TOKEN", text())
        assert "SECRET-TOKEN" not in str(exc.value)

    def test_read_timeout_is_unavailable(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted = []
        threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
        api = WeChatApi(
            f"http://127.0.0.1:{listener.getsockname()[1]}",
            timeout=urllib3.Timeout(connect=1.0, read=0.2),
        )
        try:
            with pytest.raises(WeChatUnavailable, match="ReadTimeoutError"):
                api.set_typing("t", OPENID, True)
        finally:
            for conn, _ in accepted:
                conn.close()
            listener.close()

    def test_errcode_zero_is_success(self, api, token):
        assert api.send_custom_message(token, text()) is None

    def test_api_error_message_names_the_path_and_code(self, api, standin, token):
        standin.fail_next(SEND, errcode=45015, errmsg="custom text")
        with pytest.raises(WeChatApiError) as exc:
            api.send_custom_message(token, text())
        assert str(exc.value) == f"WeChat error 45015 from {SEND}: custom text"
