"""Serve web/ (the widget and its example page) with the page pointed at the configured Rasa.

The widget reads the Rasa address from its script tag's `data-server`; without one it
guesses port 5005 on the page's host. The example page is therefore served with
`data-server` filled in: BACLOFEN_PUBLIC_RASA_URL when set (a full URL, or a path such as
`/` when a reverse proxy puts Rasa on the page's own origin), else the host the browser
used with the Rasa port of this stack. So a second copy on other ports chats with itself.

    python scripts/web_page.py --port 8080 --rasa-port 5005 [--public-rasa-url URL]
"""

from __future__ import annotations

import argparse
import html
import http.server
import os
import re
import socket
import sys
import urllib.parse
from functools import partial
from pathlib import Path
from typing import Any, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # security/ of this checkout
from security.server_limits import bind_address  # noqa: E402

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = ("/", "/index.html")
# All the page needs; web/'s sources, package files and node_modules are not served.
FILES = ("/widget.js",)
SCRIPT_TAG = '<script src="widget.js"'
# A Host header's host part: a DNS name or IPv4 address, or a bracketed IPv6 address.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$")


def browser_host(host_header: Optional[str]) -> str:
    """The host (without port) the browser used to reach this page; "localhost" when the
    Host header is missing or malformed, so a forged header cannot inject markup."""
    host = (host_header or "").strip()
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    else:
        host = host.rsplit(":", 1)[0]
    return host if _HOST.match(host) else "localhost"


def rasa_address(public_url: Optional[str], host_header: Optional[str], rasa_port: int) -> str:
    """The Rasa address the page's widget must use."""
    if public_url:
        return public_url
    return f"http://{browser_host(host_header)}:{rasa_port}"


def page_with_server(page: str, server: str) -> bytes:
    """The example page with `data-server` set on its one widget script tag."""
    if page.count(SCRIPT_TAG) != 1:
        raise ValueError(f"the page must embed the widget with exactly one {SCRIPT_TAG!r}")
    attribute = f'<script data-server="{html.escape(server, quote=True)}" src="widget.js"'
    return page.replace(SCRIPT_TAG, attribute).encode("utf-8")


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """The widget from web/, and the example page with the Rasa address filled in."""

    rasa_port: int = 5005
    public_url: Optional[str] = None

    def _route(self) -> Optional[str]:
        """What the request asks for: "page", "file", or None once answered 404."""
        path = urllib.parse.urlsplit(self.path).path
        if path in PAGES:
            return "page"
        if path in FILES:
            return "file"
        self.send_error(404)
        return None

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        route = self._route()
        if route == "file":
            super().do_GET()
        if route != "page":
            return
        server = rasa_address(self.public_url, self.headers.get("Host"), self.rasa_port)
        body = page_with_server((WEB / "index.html").read_text(encoding="utf-8"), server)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        # Generated per request: a cache must not keep one stack's address for another.
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        route = self._route()
        if route == "file":
            super().do_HEAD()
        elif route == "page":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()


def handler_class(rasa_port: int, public_url: Optional[str]) -> type[PageHandler]:
    return type("ConfiguredPageHandler", (PageHandler,), {"rasa_port": rasa_port, "public_url": public_url})


class PageServer(http.server.ThreadingHTTPServer):
    """`--bind ""`: IPv4 and IPv6 when the machine has both, like `python -m http.server`
    (browsers may resolve "localhost" to ::1 first)."""

    daemon_threads = True

    def __init__(self, bind: str, port: int, handler: Any) -> None:
        if not bind and socket.has_dualstack_ipv6():
            self.address_family = socket.AF_INET6
            bind = "::"
        super().__init__((bind, port), handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=int(os.environ.get("BACLOFEN_WEB_PORT", 8080)))
    ap.add_argument("--bind", default=bind_address(),
                    help="address to listen on (default: $BACLOFEN_BIND_ADDRESS, else 127.0.0.1 only)")
    ap.add_argument("--rasa-port", type=int, default=int(os.environ.get("BACLOFEN_RASA_PORT", 5005)))
    ap.add_argument("--public-rasa-url", default=os.environ.get("BACLOFEN_PUBLIC_RASA_URL") or None)
    args = ap.parse_args(argv)
    handler = partial(handler_class(args.rasa_port, args.public_rasa_url), directory=str(WEB))
    with PageServer(args.bind, args.port, handler) as httpd:
        where = args.public_rasa_url or f"this host, port {args.rasa_port}"
        print(f"Serving {WEB} on port {args.port}; the page's Rasa: {where}", flush=True)
        httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
