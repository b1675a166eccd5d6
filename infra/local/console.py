"""The web console on the local gateway: console/dist as a static site with the SPA fallback,
plus the generated /config.json (API base URL, WebSocket URL, Cognito ids) — what CloudFront
and `make deploy-console` do in AWS (docs/console.md). Same origin as the API, so the
HttpOnly refresh cookie and the API need no CORS locally.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "console" / "dist"


def security_headers(connect_src: str = "") -> dict[str, str]:
    """The headers CloudFront's response-headers policy sets (template.yaml ConsoleHeaders):
    the same CSP here, so a violation shows locally before it ships."""
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Element Plus positions popovers with inline style attributes.
            "style-src 'self' 'unsafe-inline'",
            # customers' pictures: presigned S3 URLs (moto's on 127.0.0.1 locally)
            "img-src 'self' data: blob: https: http://127.0.0.1:*",
            "media-src 'self' blob: https: http://127.0.0.1:*",
            f"connect-src 'self' {connect_src}".strip(),
            "font-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


class ConsoleSite:
    """Answers GET/HEAD for the console's files; None for anything else (the API's)."""

    def __init__(self, dist: Path, config: Callable[[], dict[str, Any]]) -> None:
        self.dist = dist.resolve()
        self.config = config

    @property
    def built(self) -> bool:
        return (self.dist / "index.html").is_file()

    def answer(self, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD") or request.path.startswith("/v1/"):
            return None
        config = self.config()
        headers = security_headers(str(config.get("webSocketUrl") or "").rsplit("/", 1)[0])
        if request.path == "/config.json":
            return Response(
                json.dumps(config),
                content_type="application/json",
                headers={**headers, "Cache-Control": "no-store"},
            )
        if not self.built:
            return None
        wanted = (self.dist / request.path.lstrip("/")).resolve()
        if self.dist not in wanted.parents or not wanted.is_file():
            if Path(request.path).suffix:  # a missing asset is a 404, not the app
                return Response("not found", status=404, headers=headers)
            wanted = self.dist / "index.html"  # the SPA fallback: the router shows the page
        content_type = mimetypes.guess_type(wanted.name)[0] or "application/octet-stream"
        # Hashed assets never change; index.html must be re-read to pick up a new build.
        immutable = wanted.parent.name == "assets"
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return Response(
            wanted.read_bytes(),
            content_type=content_type,
            headers={**headers, "Cache-Control": cache},
        )
