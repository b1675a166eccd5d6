"""Send a WeChat customer-service push to the local stack, exactly as WeChat would.

    python -m infra.local.push --shop demo --code xiaoming --text "在吗" --times 3

Uses the demo shops' push token and EncodingAESKey (infra/local/demo_data.py); the openid is the
one the WeChat stand-in gives `--code`, so it is the same customer as a login with that code.
The demo shops have an EncodingAESKey, so their pushes are secure (AES) by default, as WeChat
sends them; `--compatible` sends WeChat's compatible mode, and `--plain` a plain push, which a
shop with a key refuses (403 encryption_required) — see the README's WeChat section.
"""

from __future__ import annotations

import argparse
import time
import urllib.error
import urllib.parse
import urllib.request

from kefu.channels.wechat.push import PushMode, build_push

from infra.local import demo_data
from infra.local.wechat_standin import WeChatStandIn


def send_push(
    api_url: str,
    shop_id: str,
    message: dict,
    *,
    secure: bool = True,
    fmt: str = "json",
    token: str = demo_data.PUSH_TOKEN,
    aes_key: str = demo_data.DEMO_AES_KEY,
    mode: PushMode | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[int, str]:
    """POST one push; ``mode`` (plain | compatible | secure) overrides ``secure``. The demo
    shops have an EncodingAESKey, so they accept secure (or, if so configured, compatible)."""
    appid = {s["shop_id"]: s["appid"] for s in demo_data.SHOPS}.get(shop_id, "")
    query, body, content_type = build_push(
        message,
        fmt=fmt,
        token=token,
        appid=appid,
        encoding_aes_key=aes_key,
        mode=mode or ("secure" if secure else "plain"),
        timestamp=timestamp,
        nonce=nonce,
    )
    url = f"{api_url}/v1/wechat/{shop_id}/push?{urllib.parse.urlencode(query)}"
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def text_message(shop_id: str, openid: str, text: str, msg_id: int | None = None) -> dict:
    return {
        "ToUserName": f"gh_{shop_id.replace('-', '')}",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id if msg_id is not None else time.time_ns() // 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.push", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:3000")
    parser.add_argument("--shop", default="demo")
    parser.add_argument("--code", default="xiaoming", help="the login code that names the user")
    parser.add_argument("--text", required=True)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument(
        "--secure", action="store_true", help="AES secure mode (the default: demo shops have a key)"
    )
    modes.add_argument("--compatible", action="store_true", help="WeChat's compatible mode")
    modes.add_argument("--plain", action="store_true", help="plain mode (shops without a key)")
    parser.add_argument("--xml", action="store_true", help="XML instead of JSON")
    parser.add_argument("--times", type=int, default=1, help="send the same push N times")
    args = parser.parse_args(argv)
    appid = {s["shop_id"]: s["appid"] for s in demo_data.SHOPS}[args.shop]
    message = text_message(args.shop, WeChatStandIn.openid_for(appid, args.code), args.text)
    mode: PushMode = "plain" if args.plain else "compatible" if args.compatible else "secure"
    for attempt in range(1, args.times + 1):
        status, body = send_push(
            args.api, args.shop, message, mode=mode, fmt="xml" if args.xml else "json"
        )
        print(f"push {attempt}: HTTP {status} {body}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
