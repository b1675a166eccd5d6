"""Specification: docs/integration.md's app-login signing sample is what kefu verifies — the
worked example's signature is right, and the documented Python function, run as printed, signs
a body that kefu's own app login accepts."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import msgspec
from kefu.auth.customer_login import AppLogin, login_app_user
from kefu.auth.customer_tokens import verify_customer_token

from infra.local.demo_data import APP_LOGIN_KEY
from tests.support.factories import make_shop

DOC = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_worked_example_signature_matches_its_body_and_key():
    section = _section("4. Back end: app login signing")
    key = re.search(r"key `([^`]+)`", section).group(1)
    body = re.search(r"```\n(\{.*\})\n```", section).group(1).encode()
    signature = re.search(r"X-Kefu-Signature: ([0-9a-f]{64})", section).group(1)
    assert key == APP_LOGIN_KEY
    assert hmac.new(key.encode(), body, hashlib.sha256).hexdigest() == signature


def test_the_documented_python_signs_what_kefu_accepts(kefu_env):
    make_shop("shop-a")  # its app-login key: "shop-a-app-login-key"
    code = re.search(r"```python\n(.*?)```", _section("4. Back end: app login signing"), re.S)
    namespace: dict = {}
    exec(compile(code.group(1), "docs/integration.md", "exec"), namespace)

    body, signature = namespace["sign_app_login"](
        "shop-a-app-login-key", "shop-a", "u-10086", display_name="张三"
    )
    answer = login_app_user(body, signature, msgspec.json.decode(body, type=AppLogin))

    actor = verify_customer_token(answer["token"])
    assert (actor.shop_id, actor.external_id, actor.channel) == ("shop-a", "u-10086", "h5")
