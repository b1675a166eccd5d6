"""python -m infra.local: run the whole back end on loopback (moto + API gateway + triggers).

Ctrl-C (SIGINT) or SIGTERM stops everything and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local.stack import Hook, LocalStack, PortInUse

log = logging.getLogger("infra.local")


def _optional_module(name: str) -> Any:
    """The module if it exists (others own it); import errors inside it still surface."""
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def wechat_standin_hook(host: str, port: int) -> Hook | None:
    module = _optional_module("infra.local.wechat_standin")
    if module is None:
        log.info("no infra/local/wechat_standin.py yet: functions use the real WeChat URL")
        return None

    def start_standin(stack: LocalStack) -> None:
        standin = module.WeChatStandIn()
        url = standin.start(host, port)
        stack.urls["wechat"] = url
        stack.set_env("WECHAT_API_BASE_URL", url)
        stop = getattr(standin, "stop", None)
        if callable(stop):
            stack.add_cleanup(stop)

    return start_standin


def demo_data_hook(*, tolerant: bool = False) -> Hook | None:
    """demo_data.load as a hook; `tolerant` logs its failure instead of stopping the start."""
    module = _optional_module("infra.local.demo_data")
    if module is None:
        log.info("no infra/local/demo_data.py yet: starting with empty tables")
        return None
    if not tolerant:
        return module.load

    def load_demo_data(stack: LocalStack) -> None:
        # For `make dev`: broken demo data should not keep the developer from a running stack.
        try:
            module.load(stack)
        except Exception:
            log.exception("demo data not loaded; the stack runs with what was created")

    return load_demo_data


def start_widget_demo(stack: LocalStack, host: str, port: int) -> str | None:
    """The widget's demo page and the demo shop's local signing server (after the gateway:
    it forwards to the API)."""
    from infra.local.widget_demo import WidgetDemo

    demo = WidgetDemo(stack.api_url, stack.urls.get("websocket"))
    try:
        url = demo.start(host, port)
    except OSError as exc:
        log.warning("widget demo not started (%s:%s): %s", host, port, exc)
        return None
    stack.urls["widget"] = url
    stack.add_cleanup(demo.stop)
    return url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="API gateway port (0 = any)")
    parser.add_argument("--moto-port", type=int, default=5000, help="moto server port (0 = any)")
    parser.add_argument("--moto-url", help="use this running moto server instead of starting one")
    parser.add_argument("--wechat-port", type=int, default=3100)
    parser.add_argument("--ws-port", type=int, default=3001, help="WebSocket API port (0 = any)")
    parser.add_argument(
        "--widget-port", type=int, default=3200, help="H5 widget demo page port (0 = any)"
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    parser.add_argument("--no-schedules", action="store_true", help="only fire on demand")
    parser.add_argument("--preload", action="store_true", help="import every function at start")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--console",
        default=str(Path(__file__).resolve().parents[2] / "console" / "dist"),
        help="the built console to serve on the gateway (make console)",
    )
    parser.add_argument("--no-console", action="store_true", help="do not serve the console")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # werkzeug logs every request of both servers; the gateway logs its own, shorter line.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    hooks: list[Callable[[LocalStack], None]] = []
    standin = wechat_standin_hook(args.host, args.wechat_port)
    if standin is not None:
        hooks.append(standin)
    if not args.no_demo:
        demo = demo_data_hook(tolerant=True)
        if demo is not None:
            hooks.append(demo)

    overrides = dict(p.split("=", 1) for p in args.parameter)
    stack = LocalStack(
        args.template,
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        ws_port=args.ws_port,
        moto_url=args.moto_url,
        region=args.region,
        parameter_overrides=overrides,
        before_start=hooks,
        schedules=not args.no_schedules,
        preload=args.preload,
        console=None if args.no_console else Path(args.console),
    )

    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
    except (PortInUse, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 1
    widget = start_widget_demo(stack, args.host, args.widget_port)
    try:
        print("kefu local stack is up\n" + stack.describe(), flush=True)
        if "console" in stack.urls:
            print(
                f"Web console (shop demo, agent1 or owner, password Kefu-demo-123): "
                f"{stack.urls['console']}",
                flush=True,
            )
        if widget:
            print(
                f"H5 widget demo, a customer of shop demo (answer as agent1 in another window): "
                f"{widget}\n  another customer, in English: {widget}?user=h5-guest-2&lang=en",
                flush=True,
            )
        print("(Ctrl-C to stop)", flush=True)
        while not stopping.wait(1):
            pass
    finally:
        stack.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
