"""Which transport failures may have reached WeChat, with real sockets (kefu.outbound): no
answer after the request went out may have been sent (so the reply becomes `unknown`); a
refused connection certainly was not (so it is retried)."""

from __future__ import annotations

import socket

import pytest
import urllib3
from kefu import outbound
from kefu.channels.wechat.api import WeChatApi, WeChatUnavailable

pytestmark = pytest.mark.integration


def _unavailable(base_url):
    api = WeChatApi(base_url, timeout=urllib3.Timeout(connect=0.5, read=0.3))
    with pytest.raises(WeChatUnavailable) as raised:
        api.send_custom_message("token", {"touser": "o", "msgtype": "text", "text": {}})
    return raised.value


def test_no_answer_after_the_request_went_out_may_have_been_sent():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        exc = _unavailable(f"http://127.0.0.1:{server.getsockname()[1]}")
    finally:
        server.close()
    assert outbound._maybe_sent(exc) is True


def test_a_refused_connection_was_certainly_not_sent():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    exc = _unavailable(f"http://127.0.0.1:{port}")
    assert outbound._maybe_sent(exc) is False
