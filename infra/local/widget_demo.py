"""LOCAL ONLY: the H5 widget's demo page, and the demo shop's stand-in signing server.

A shop's own back end signs `POST /v1/auth/app` with its app-login key and hands the session
to its page (docs/integration.md). Locally this server plays that back end for the demo shop:
`POST /demo/app-login` signs with demo_data's published demo key and forwards the call. It
listens on loopback only and knows nothing but the demo shop's key; nothing of it is deployed.

    GET  /widget/                  the demo page (clients/js/demo/index.html)
    GET  /widget/kefu-widget.js    the widget as built by `make clients-js` (clients/js/dist)
    GET  /widget/config.json       {"apiBase", "wsUrl", "shopId"} of this local stack
    POST /demo/app-login           {"user_id", "display_name"?} -> kefu's customer session
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local.demo_data import APP_LOGIN_KEY

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2] / "clients" / "js"
DEMO_SHOP = "demo"
USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
FILES = {
    "/widget/": (ROOT / "demo" / "index.html", "text/html; charset=utf-8"),
    "/widget/index.html": (ROOT / "demo" / "index.html", "text/html; charset=utf-8"),
    "/widget/kefu-widget.js": (
        ROOT / "dist" / "widget" / "kefu-widget.js",
        "text/javascript; charset=utf-8",
    ),
    "/widget/kefu-widget.js.map": (
        ROOT / "dist" / "widget" / "kefu-widget.js.map",
        "application/json",
    ),
}


def sign(body: bytes, key: str = APP_LOGIN_KEY) -> str:
    """X-Kefu-Signature: lower-case hex HMAC-SHA256 of the raw body (kefu/auth/customer_login)."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WidgetDemo:
    def __init__(self, api_url: str, ws_url: str | None, shop_id: str = DEMO_SHOP) -> None:
        self.api_url = api_url.rstrip("/")
        self.ws_url = ws_url
        self.shop_id = shop_id
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 3200) -> str:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the widget demo signs with the demo key: loopback only")
        self._server = make_server(host, port, self, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kefu-widget-demo", daemon=True
        )
        self._thread.start()
        return f"http://{host}:{self._server.server_port}/widget/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/widget":
            return Response(status=302, headers={"Location": "/widget/"})
        if request.method == "GET" and request.path in FILES:
            path, content_type = FILES[request.path]
            if not path.exists():
                return _json(404, {"error": f"{path.name} is not built: run `make clients-js`"})
            return Response(path.read_bytes(), content_type=content_type)
        if request.method == "GET" and request.path == "/widget/config.json":
            return _json(
                200, {"apiBase": self.api_url, "wsUrl": self.ws_url, "shopId": self.shop_id}
            )
        if request.method == "POST" and request.path == "/demo/app-login":
            return self.app_login(request)
        return _json(404, {"error": "not found"})

    def app_login(self, request: Request) -> Response:
        """What the shop's server does: sign the exact body it sends to kefu."""
        try:
            asked = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _json(400, {"error": "send JSON"})
        user_id = str(asked.get("user_id") or "")
        if not USER_ID.fullmatch(user_id):
            return _json(400, {"error": "user_id: letters, digits and _.:@- (1-128)"})
        payload: dict[str, Any] = {
            "shop_id": self.shop_id,
            "user_id": user_id,
            "timestamp": int(time.time()),
            "channel": "h5",
        }
        if asked.get("display_name"):
            payload["display_name"] = str(asked["display_name"])[:64]
        body = json.dumps(payload, ensure_ascii=False).encode()
        answer = requests.post(
            f"{self.api_url}/v1/auth/app",
            data=body,
            headers={"Content-Type": "application/json", "X-Kefu-Signature": sign(body)},
            timeout=10,
        )
        return Response(answer.content, status=answer.status_code, content_type="application/json")


def _json(status: int, data: Any) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, content_type="application/json"
    )
