"""The WeChat API stand-in answers like api.weixin.qq.com and is controllable by tests."""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import urllib3

from infra.local.wechat_standin import ERRMSG, WeChatStandIn

APPID = "wx0000000000000001"
SECRET = "s3cr3t"
OPENID = "oUser"


@pytest.fixture(scope="module")
def server():
    standin = WeChatStandIn()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def standin(server):
    server.reset()
    server.add_app(APPID, SECRET)
    return server


@pytest.fixture(scope="module")
def http():
    return urllib3.PoolManager(retries=False)


@pytest.fixture
def call(standin, http):
    """``call(method, path, query=, json_body=, body=, headers=) -> (status, answer)``."""

    def _call(method, path, *, query=None, json_body=None, body=None, headers=None):
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        url = standin.url + path + ("?" + urlencode(query) if query else "")
        response = http.request(method, url, body=body, headers=headers)
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, response.data.decode()

    return _call


@pytest.fixture
def token(call):
    status, answer = call(
        "POST",
        "/cgi-bin/stable_token",
        json_body={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    )
    assert status == 200
    return answer["access_token"]


def errcode(answer):
    return answer.get("errcode", 0)


class TestLifecycle:
    def test_start_serves_on_a_free_loopback_port_and_stop_releases_it(self):
        standin = WeChatStandIn()
        url = standin.start()
        assert url.startswith("http://127.0.0.1:")
        assert standin.url == url
        port = int(url.rsplit(":", 1)[1])
        standin.stop()
        standin.stop()  # idempotent
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free again

    def test_url_before_start_is_an_error(self):
        with pytest.raises(RuntimeError, match="not started"):
            _ = WeChatStandIn().url

    def test_cannot_start_twice(self, standin):
        with pytest.raises(RuntimeError, match="already started"):
            standin.start()

    def test_context_manager_starts_and_stops(self):
        with WeChatStandIn() as standin:
            assert standin.url.startswith("http://")
        with pytest.raises(RuntimeError):
            _ = standin.url


class TestLogin:
    def login(self, call, **query):
        base = {
            "appid": APPID,
            "secret": SECRET,
            "js_code": "code-1",
            "grant_type": "authorization_code",
        }
        return call("GET", "/sns/jscode2session", query={**base, **query})

    def test_returns_openid_session_key_and_unionid(self, call):
        status, answer = self.login(call)
        assert status == 200
        assert set(answer) == {"openid", "session_key", "unionid"}

    def test_openid_looks_like_a_real_one_and_is_stable_per_app_and_code(self, call):
        _, first = self.login(call)
        _, again = self.login(call)
        assert first["openid"] == again["openid"] == WeChatStandIn.openid_for(APPID, "code-1")
        assert len(first["openid"]) == 28 and first["openid"].startswith("o")

    def test_same_code_under_two_apps_gives_two_openids_but_one_unionid(self, call, standin):
        standin.add_app("wx0000000000000002", "other")
        _, a = self.login(call)
        _, b = self.login(call, appid="wx0000000000000002", secret="other")
        assert a["openid"] != b["openid"]
        assert a["unionid"] == b["unionid"]

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ({"js_code": ""}, 40029),
            ({"grant_type": "client_credential"}, 40002),
            ({"appid": ""}, 41002),
            ({"appid": "wxnobody"}, 40013),
            ({"secret": ""}, 41004),
            ({"secret": "wrong"}, 40125),
        ],
    )
    def test_rejects_bad_parameters_with_wechats_codes(self, call, query, code):
        status, answer = self.login(call, **query)
        assert (status, answer["errcode"]) == (200, code)
        assert answer["errmsg"].startswith(ERRMSG[code] + " rid: ")

    def test_post_is_refused(self, call):
        _, answer = call("POST", "/sns/jscode2session", json_body={})
        assert answer["errcode"] == 43001


class TestStableToken:
    def request(self, call, **body):
        base = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        return call("POST", "/cgi-bin/stable_token", json_body={**base, **body})[1]

    def test_issues_a_two_hour_token_and_repeats_it(self, call):
        first = self.request(call)
        assert first["expires_in"] == 7200
        assert self.request(call)["access_token"] == first["access_token"]

    def test_force_refresh_issues_a_new_token(self, call):
        first = self.request(call)["access_token"]
        assert self.request(call, force_refresh=True)["access_token"] != first

    def test_tokens_are_per_app(self, call, standin):
        standin.add_app("wx0000000000000002", "other")
        a = self.request(call)["access_token"]
        b = self.request(call, appid="wx0000000000000002", secret="other")["access_token"]
        assert a != b

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"grant_type": "authorization_code"}, 40002),
            ({"appid": "wxnobody"}, 40013),
            ({"secret": "wrong"}, 40125),
        ],
    )
    def test_rejects_bad_credentials(self, call, body, code):
        assert self.request(call, **body)["errcode"] == code

    def test_rejects_an_empty_body_and_non_json(self, call):
        assert call("POST", "/cgi-bin/stable_token", body=b"")[1]["errcode"] == 44002
        assert call("POST", "/cgi-bin/stable_token", body=b"{oops")[1]["errcode"] == 47001

    def test_get_is_refused(self, call):
        assert call("GET", "/cgi-bin/stable_token")[1]["errcode"] == 43002


class TestAccessTokenChecks:
    PATHS = [
        "/cgi-bin/message/custom/send",
        "/cgi-bin/message/subscribe/send",
        "/cgi-bin/message/custom/typing",
        "/cgi-bin/media/upload",
    ]

    @pytest.mark.parametrize("path", PATHS)
    def test_missing_token_is_41001(self, call, path):
        assert call("POST", path, json_body={})[1]["errcode"] == 41001

    @pytest.mark.parametrize("path", PATHS)
    def test_unknown_token_is_40001_with_wechats_message(self, call, path):
        _, answer = call("POST", path, query={"access_token": "bogus"}, json_body={})
        assert answer["errcode"] == 40001
        assert answer["errmsg"].startswith(
            "invalid credential, access_token is invalid or not latest"
        )

    @pytest.mark.parametrize("path", PATHS)
    def test_expired_token_is_42001(self, call, standin, token, path):
        standin.expire_tokens()
        _, answer = call("POST", path, query={"access_token": token}, json_body={})
        assert answer["errcode"] == 42001


class TestCustomMessages:
    def send(self, call, token, payload, path="/cgi-bin/message/custom/send"):
        return call("POST", path, query={"access_token": token}, json_body=payload)[1]

    def test_accepts_a_text_message_and_records_it(self, call, standin, token):
        payload = {"touser": OPENID, "msgtype": "text", "text": {"content": "你好"}}
        assert self.send(call, token, payload) == {"errcode": 0, "errmsg": "ok"}
        (record,) = standin.requests("/cgi-bin/message/custom/send")
        assert record["json"] == payload
        assert record["query"] == {"access_token": token}
        assert (record["method"], record["http_status"], record["errcode"]) == ("POST", 200, 0)
        assert isinstance(record["time"], float)

    def test_business_path_is_served_too(self, call, token):
        payload = {"touser": OPENID, "msgtype": "text", "text": {"content": "x"}}
        assert self.send(call, token, payload, "/cgi-bin/message/custom/business/send") == {
            "errcode": 0,
            "errmsg": "ok",
        }

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({"msgtype": "text", "text": {"content": "x"}}, 40003),
            ({"touser": "", "msgtype": "text", "text": {"content": "x"}}, 40003),
            ({"touser": OPENID, "msgtype": "news"}, 40008),
            ({"touser": OPENID}, 40008),
            ({"touser": OPENID, "msgtype": "text", "text": {"content": ""}}, 44004),
            ({"touser": OPENID, "msgtype": "text"}, 44004),
            ({"touser": OPENID, "msgtype": "image", "image": {"media_id": "x"}}, 40007),
            ({"touser": OPENID, "msgtype": "link", "link": {"title": "t"}}, 47001),
            (
                {
                    "touser": OPENID,
                    "msgtype": "miniprogrampage",
                    "miniprogrampage": {"title": "t", "pagepath": "p", "thumb_media_id": "x"},
                },
                40007,
            ),
        ],
    )
    def test_validates_the_payload_like_wechat(self, call, token, payload, code):
        assert self.send(call, token, payload)["errcode"] == code

    def test_rejects_a_body_that_is_not_a_json_object(self, call, token):
        _, answer = call(
            "POST",
            "/cgi-bin/message/custom/send",
            query={"access_token": token},
            body=b"[1]",
        )
        assert answer["errcode"] == 47001


class TestTypingAndSubscribe:
    @pytest.mark.parametrize(
        "path", ["/cgi-bin/message/custom/typing", "/cgi-bin/message/custom/business/typing"]
    )
    def test_typing_accepts_wechats_commands_only(self, call, token, path):
        for command, code in [("Typing", 0), ("CancelTyping", 0), ("typing", 45072)]:
            _, answer = call(
                "POST",
                path,
                query={"access_token": token},
                json_body={"touser": OPENID, "command": command},
            )
            assert errcode(answer) == code

    @pytest.mark.parametrize(
        ("payload", "code"),
        [
            ({"touser": OPENID, "template_id": "t", "data": {"a": {"value": "v"}}}, 0),
            ({"template_id": "t", "data": {"a": {"value": "v"}}}, 40003),
            ({"touser": OPENID, "data": {"a": {"value": "v"}}}, 40037),
            ({"touser": OPENID, "template_id": "t", "data": {"a": "v"}}, 47003),
            ({"touser": OPENID, "template_id": "t"}, 47003),
            (
                {
                    "touser": OPENID,
                    "template_id": "t",
                    "data": {"a": {"value": "v"}},
                    "miniprogram_state": "beta",
                },
                47003,
            ),
        ],
    )
    def test_subscribe_message_validation(self, call, token, payload, code):
        _, answer = call(
            "POST",
            "/cgi-bin/message/subscribe/send",
            query={"access_token": token},
            json_body=payload,
        )
        assert errcode(answer) == code


class TestMediaUpload:
    def upload(self, call, token, *, media_type="image", field="media", data=b"img"):
        body, ctype = urllib3.encode_multipart_formdata({field: ("a.png", data, "image/png")})
        return call(
            "POST",
            "/cgi-bin/media/upload",
            query={"access_token": token, "type": media_type},
            body=body,
            headers={"Content-Type": ctype},
        )[1]

    def test_answers_type_media_id_and_created_at(self, call, token):
        answer = self.upload(call, token)
        assert set(answer) == {"type", "media_id", "created_at"}
        assert answer["type"] == "image"
        assert isinstance(answer["created_at"], int)

    def test_records_a_summary_of_the_file_not_its_bytes(self, call, standin, token):
        self.upload(call, token, data=b"12345")
        (record,) = standin.requests("/cgi-bin/media/upload")
        (part,) = record["multipart"]
        assert part["size"] == 5 and "data" not in part and len(part["sha256"]) == 64

    @pytest.mark.parametrize(
        ("kwargs", "code"),
        [
            ({"media_type": "voice"}, 40004),
            ({"field": "file"}, 41005),
            ({"data": b"x" * (2 * 1024 * 1024 + 1)}, 40009),
        ],
    )
    def test_rejects_bad_uploads(self, call, token, kwargs, code):
        assert self.upload(call, token, **kwargs)["errcode"] == code

    def test_media_is_usable_only_by_the_app_that_uploaded_it(self, call, standin, token):
        media_id = self.upload(call, token)["media_id"]
        standin.add_app("wx0000000000000002", "other")
        _, other = call(
            "POST",
            "/cgi-bin/stable_token",
            json_body={
                "grant_type": "client_credential",
                "appid": "wx0000000000000002",
                "secret": "other",
            },
        )
        payload = {"touser": OPENID, "msgtype": "image", "image": {"media_id": media_id}}
        _, answer = call(
            "POST",
            "/cgi-bin/message/custom/send",
            query={"access_token": other["access_token"]},
            json_body=payload,
        )
        assert answer["errcode"] == 40007


SEND_PATH = "/cgi-bin/message/custom/send"


class TestFailureInjection:
    PATH = "/cgi-bin/message/custom/typing"

    def typing(self, call, token):
        return call(
            "POST",
            self.PATH,
            query={"access_token": token},
            json_body={"touser": OPENID, "command": "Typing"},
        )

    def test_next_n_calls_fail_with_the_errcode_then_calls_succeed(self, call, standin, token):
        standin.fail_next(self.PATH, errcode=45015, times=2)
        answers = [self.typing(call, token)[1] for _ in range(3)]
        assert [errcode(a) for a in answers] == [45015, 45015, 0]
        assert answers[0]["errmsg"].startswith(ERRMSG[45015])

    def test_custom_errmsg_is_used_verbatim(self, call, standin, token):
        standin.fail_next(self.PATH, errcode=-1, errmsg="system error")
        assert self.typing(call, token)[1] == {"errcode": -1, "errmsg": "system error"}

    def test_http_status_failure_answers_a_bare_http_error(self, call, standin, token):
        standin.fail_next(self.PATH, http_status=503)
        status, answer = self.typing(call, token)
        assert status == 503 and isinstance(answer, str)
        assert self.typing(call, token)[0] == 200

    def test_failures_queue_in_order(self, call, standin, token):
        standin.fail_next(self.PATH, errcode=45011)
        standin.fail_next(self.PATH, http_status=502)
        assert self.typing(call, token)[1]["errcode"] == 45011
        assert self.typing(call, token)[0] == 502

    def test_failures_apply_only_to_their_path(self, call, standin, token):
        standin.fail_next("/cgi-bin/message/custom/send", errcode=45015)
        assert errcode(self.typing(call, token)[1]) == 0

    def test_injected_failures_are_recorded(self, call, standin, token):
        standin.fail_next(self.PATH, errcode=45015)
        self.typing(call, token)
        assert standin.requests(self.PATH)[0]["errcode"] == 45015

    def test_a_delay_alone_acts_then_answers_late_past_the_callers_timeout(
        self, call, standin, token
    ):
        standin.fail_next(SEND_PATH, delay=1.0)
        late = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1, read=0.3))
        payload = {"touser": OPENID, "msgtype": "text", "text": {"content": "late"}}
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            late.request(
                "POST",
                f"{standin.url}{SEND_PATH}?access_token={token}",
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
            )
        # WeChat acted although the caller saw a timeout: the message was sent.
        [sent] = standin.requests(SEND_PATH)
        assert (sent["errcode"], sent["delay"]) == (0, 1.0)

    def test_a_delayed_failure_answers_the_failure_late(self, call, standin, token):
        standin.fail_next(self.PATH, http_status=502, delay=0.2)
        assert self.typing(call, token)[0] == 502
        assert standin.requests(self.PATH)[0]["delay"] == 0.2

    def test_delay_over_the_control_api(self, call, standin, token):
        status, _ = call("POST", "/__standin__/fail", json_body={"path": self.PATH, "delay": 0.1})
        assert status == 200
        assert errcode(self.typing(call, token)[1]) == 0
        assert standin.requests(self.PATH)[0]["delay"] == 0.1

    @pytest.mark.parametrize(
        "kwargs", [{}, {"errcode": 45015, "times": 0}], ids=["no-failure", "zero-times"]
    )
    def test_rejects_a_meaningless_failure_spec(self, standin, kwargs):
        with pytest.raises(ValueError):
            standin.fail_next(self.PATH, **kwargs)


class TestRecording:
    def test_control_calls_and_unknown_paths(self, call, standin):
        status, answer = call("GET", "/cgi-bin/nope")
        assert (status, answer["errcode"]) == (404, 40066)
        call("GET", "/__standin__/requests")
        assert [r["path"] for r in standin.requests()] == ["/cgi-bin/nope"]

    def test_requests_can_be_filtered_by_path(self, call, standin, token):
        call("POST", "/cgi-bin/message/custom/typing", query={"access_token": token}, json_body={})
        assert [r["path"] for r in standin.requests()] == [
            "/cgi-bin/stable_token",
            "/cgi-bin/message/custom/typing",
        ]
        assert len(standin.requests("/cgi-bin/message/custom/typing")) == 1

    def test_concurrent_calls_are_all_answered_and_recorded(self, call, standin, token):
        def send(i):
            payload = {"touser": OPENID, "msgtype": "text", "text": {"content": str(i)}}
            return call(
                "POST",
                "/cgi-bin/message/custom/send",
                query={"access_token": token},
                json_body=payload,
            )[1]["errcode"]

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, range(40))) == {0}
        contents = {r["json"]["text"]["content"] for r in standin.requests()[1:]}
        assert contents == {str(i) for i in range(40)}

    def test_reset_forgets_tokens_and_requests_but_keeps_apps(self, call, standin, token):
        standin.reset()
        assert standin.requests() == []
        _, answer = call(
            "POST",
            "/cgi-bin/message/custom/typing",
            query={"access_token": token},
            json_body={"touser": OPENID, "command": "Typing"},
        )
        assert answer["errcode"] == 40001
        _, fresh = call(
            "POST",
            "/cgi-bin/stable_token",
            json_body={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
        )
        assert "access_token" in fresh


class TestControlApiOverHttp:
    def test_fail_then_requests(self, call, token):
        status, answer = call(
            "POST",
            "/__standin__/fail",
            json_body={"path": "/cgi-bin/message/custom/send", "errcode": 45047, "times": 1},
        )
        assert (status, answer) == (200, {"ok": True})
        payload = {"touser": OPENID, "msgtype": "text", "text": {"content": "x"}}
        _, sent = call(
            "POST",
            "/cgi-bin/message/custom/send",
            query={"access_token": token},
            json_body=payload,
        )
        assert sent["errcode"] == 45047
        _, records = call(
            "GET", "/__standin__/requests", query={"path": "/cgi-bin/message/custom/send"}
        )
        assert [r["errcode"] for r in records] == [45047]

    def test_fail_with_http_status(self, call, token):
        call(
            "POST",
            "/__standin__/fail",
            json_body={"path": "/cgi-bin/stable_token", "http_status": 503, "times": 2},
        )
        statuses = [call("POST", "/cgi-bin/stable_token", json_body={})[0] for _ in range(3)]
        assert statuses == [503, 503, 200]

    def test_expire_tokens(self, call, token):
        assert call("POST", "/__standin__/expire-tokens")[1] == {"ok": True}
        _, answer = call(
            "POST",
            "/cgi-bin/message/custom/typing",
            query={"access_token": token},
            json_body={"touser": OPENID, "command": "Typing"},
        )
        assert answer["errcode"] == 42001

    def test_reset(self, call, standin, token):
        assert call("POST", "/__standin__/reset")[1] == {"ok": True}
        assert standin.requests() == []

    def test_add_app(self, call):
        call("POST", "/__standin__/apps", json_body={"appid": "wxnew", "secret": "pw"})
        _, answer = call(
            "POST",
            "/cgi-bin/stable_token",
            json_body={"grant_type": "client_credential", "appid": "wxnew", "secret": "pw"},
        )
        assert "access_token" in answer

    def test_bad_control_request_is_400_and_unknown_action_404(self, call):
        assert call("POST", "/__standin__/fail", json_body={"errcode": 1})[0] == 400
        assert call("POST", "/__standin__/fail", json_body={"path": "/x"})[0] == 400
        assert call("GET", "/__standin__/nothing")[0] == 404
