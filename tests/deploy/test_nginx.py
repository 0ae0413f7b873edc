"""deploy/nginx/baclofen.conf, rendered by deploy/render_nginx.py and run by a real nginx
on loopback in front of two stub Rasa instances that record what reaches them.

Proves what the production entry promises: the page (pointed at this origin) and the
widget are served and nothing else of web/; REST and socket.io reach Rasa with the
websocket upgrade and forwarding headers; Rasa's HTTP API is not reachable; bodies over
1 MB are refused; a client sticks to one instance (ip_hash) and moves when it is down.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from deploy import render_nginx

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the renderer -----------------------------------------------------------------------

def test_the_template_has_exactly_three_placeholders() -> None:
    text = render_nginx.TEMPLATE.read_text(encoding="utf-8")
    found = {m.group(1) for m in render_nginx._PLACEHOLDER.finditer(text)}
    assert found == {"BACLOFEN_NGINX_UPSTREAMS", "BACLOFEN_NGINX_LISTEN", "BACLOFEN_NGINX_WEB_ROOT"}


def test_render_site_fills_every_placeholder() -> None:
    site = render_nginx.render_site(["rasa-1:5005", "10.0.0.7:5005"], 80, "/srv/web")
    assert not render_nginx._PLACEHOLDER.search(site)
    assert "server rasa-1:5005 max_fails=2 fail_timeout=10s;" in site
    assert "server 10.0.0.7:5005 max_fails=2 fail_timeout=10s;" in site
    assert "listen 80 default_server;" in site
    assert 'root "/srv/web";' in site
    assert "ip_hash;" in site and "client_max_body_size 1m;" in site


@pytest.mark.parametrize("upstreams, listen, web_root", [
    ([], 80, "/srv/web"),                                  # no instance
    (["rasa-1"], 80, "/srv/web"),                          # no port
    (["rasa-1:5005; include /etc/passwd"], 80, "/srv/web"),  # injected directive
    (["rasa-1:99999"], 80, "/srv/web"),                    # no such port
    (["rasa-1:5005"], "80; evil", "/srv/web"),
    (["rasa-1:5005"], 80, '/srv/web"; evil "'),
    (["rasa-1:5005"], 80, "/srv/$host"),                   # nginx would read a variable
])
def test_render_refuses_what_would_break_or_inject_config(upstreams: List[str], listen: object,
                                                          web_root: str) -> None:
    with pytest.raises(ValueError):
        render_nginx.render_site(upstreams, listen, web_root)  # type: ignore[arg-type]


def test_fill_refuses_a_missing_value() -> None:
    with pytest.raises(ValueError, match="BACLOFEN_NGINX_LISTEN"):
        render_nginx.fill("listen ${BACLOFEN_NGINX_LISTEN};", {})


def test_compose_nginx_image_renders_only_our_placeholders() -> None:
    # The official nginx image runs envsubst over the template with the names
    # NGINX_ENVSUBST_FILTER lets through; every nginx $variable must survive it.
    import yaml

    nginx = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["nginx"]
    env = {k: str(v) for k, v in nginx["environment"].items()}
    pattern = re.compile(env["NGINX_ENVSUBST_FILTER"])
    names = " ".join(f"${{{k}}}" for k in env if pattern.search(k))
    template = render_nginx.TEMPLATE.read_text(encoding="utf-8")
    out = subprocess.run(["envsubst", names], input=template, capture_output=True, text=True,
                         env={**os.environ, **env}, check=True).stdout
    assert not render_nginx._PLACEHOLDER.search(out)
    nginx_vars = lambda text: sorted(re.findall(r"\$(?!\{)[a-z_]+", text))  # noqa: E731
    assert nginx_vars(out) == nginx_vars(template)
    assert "server rasa-1:5005 max_fails=2 fail_timeout=10s; server rasa-2:5005" in out
    assert "listen 80 default_server;" in out and "root /usr/share/nginx/html;" in out


def test_the_kubernetes_web_page_config_matches_compose() -> None:
    # deploy/kubernetes/web-configmap.yaml repeats the page locations for its static nginx.
    import yaml

    (doc,) = yaml.safe_load_all((ROOT / "deploy/kubernetes/web-configmap.yaml").read_text())
    k8s = doc["data"]["default.conf"]
    template = render_nginx.TEMPLATE.read_text(encoding="utf-8")
    for line in ("sub_filter '<script src=\"widget.js\"' '<script src=\"widget.js\" data-server=\"/\"';",
                 "location = /widget.js {", "return 404;", "add_header X-Content-Type-Options nosniff always;"):
        assert line in k8s and line in template, line


def test_the_page_anchor_is_in_the_page() -> None:
    # sub_filter points the example page at this origin by the script tag's start.
    assert '<script src="widget.js"' in (ROOT / "web" / "index.html").read_text(encoding="utf-8")


# --- a real nginx -----------------------------------------------------------------------

class Recorder(http.server.ThreadingHTTPServer):
    """A stub Rasa instance: answers every request with JSON naming itself, and keeps
    (method, path, headers) of each."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: List[Tuple[str, str, Dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = json.dumps({"instance": self.server.name}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stubs() -> Iterator[List[Recorder]]:
    servers = [Recorder("a"), Recorder("b")]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield servers
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def nginx(tmp_path: Path, stubs: List[Recorder]) -> Iterator[int]:
    if NGINX is None:
        pytest.fail("nginx is not installed (scripts/system_deps.sh installs it)")
    # Run by root, nginx's workers are `nobody`: they must be able to enter the folder.
    tmp_path.chmod(0o755)
    port = free_port()
    conf = render_nginx.render([f"127.0.0.1:{s.server_address[1]}" for s in stubs], port, ROOT / "web",
                               pid_path=tmp_path / "nginx.pid", error_log=tmp_path / "error.log",
                               access_log=tmp_path / "access.log", temp_dir=tmp_path)
    (tmp_path / "nginx.conf").write_text(conf)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                            "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while request(port, "GET", "/healthz")[0] != 200:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def request(port: int, method: str, path: str, body: Optional[bytes] = None,
            headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except OSError:
        return 0, {}, b""
    finally:
        conn.close()


def test_serves_the_page_pointed_at_this_origin(nginx: int) -> None:
    status, headers, body = request(nginx, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<script src="widget.js" data-server="/"' in body
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, body = request(nginx, "GET", "/widget.js")
    assert status == 200 and "javascript" in headers["content-type"] and len(body) > 1000


@pytest.mark.parametrize("path", ["/package.json", "/src/widget.js", "/node_modules/", "/README.md",
                                  "/build.mjs"])
def test_serves_nothing_else_of_web(nginx: int, path: str) -> None:
    assert request(nginx, "GET", path)[0] == 404


@pytest.mark.parametrize("path", ["/model", "/conversations/x/tracker", "/status", "/version"])
def test_rasa_http_api_is_not_reachable(nginx: int, stubs: List[Recorder], path: str) -> None:
    assert request(nginx, "GET", path)[0] == 404
    assert not any(seen for s in stubs for seen in s.seen)


def test_rest_reaches_rasa_with_forwarding_headers(nginx: int, stubs: List[Recorder]) -> None:
    payload = json.dumps({"sender": "x", "message": "what is baclofen"}).encode()
    status, _, body = request(nginx, "POST", "/webhooks/rest/webhook", payload,
                              {"Content-Type": "application/json", "Host": "chat.example.org"})
    assert status == 200
    instance = json.loads(body)["instance"]
    (method, path, headers), = next(s for s in stubs if s.name == instance).seen
    assert (method, path) == ("POST", "/webhooks/rest/webhook")
    assert headers["host"] == "chat.example.org"
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"


def test_socketio_passes_the_websocket_upgrade(nginx: int, stubs: List[Recorder]) -> None:
    request(nginx, "GET", "/socket.io/?EIO=4&transport=websocket",
            headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    (_, path, headers), = [seen for s in stubs for seen in s.seen]
    assert path.startswith("/socket.io/")
    assert headers["upgrade"] == "websocket" and headers["connection"].lower() == "upgrade"
    # A plain polling request keeps the upstream connection reusable instead.
    request(nginx, "GET", "/socket.io/?EIO=4&transport=polling")
    assert "upgrade" not in [seen for s in stubs for seen in s.seen][-1][2]


def test_refuses_bodies_over_one_megabyte(nginx: int, stubs: List[Recorder]) -> None:
    status, _, _ = request(nginx, "POST", "/webhooks/rest/webhook", b"x" * (1024 * 1024 + 1),
                           {"Content-Type": "application/json"})
    assert status == 413
    assert not any(seen for s in stubs for seen in s.seen)


def test_a_client_sticks_to_one_instance_and_moves_when_it_is_down(nginx: int, stubs: List[Recorder]) -> None:
    answered = {json.loads(request(nginx, "GET", "/socket.io/?EIO=4&transport=polling")[2])["instance"]
                for _ in range(10)}
    assert len(answered) == 1, "socket.io polling needs every request of a client on one instance"
    (sticky,) = answered
    down = next(s for s in stubs if s.name == sticky)
    down.shutdown()
    down.server_close()
    status, _, body = request(nginx, "GET", "/socket.io/?EIO=4&transport=polling")
    assert status == 200 and json.loads(body)["instance"] != sticky


def test_rest_goes_to_any_instance(nginx: int, stubs: List[Recorder]) -> None:
    """REST needs no stickiness (one shared conversation store and lock): requests spread
    over the instances, so one busy client does not load one instance alone."""
    for i in range(12):
        request(nginx, "POST", "/webhooks/rest/webhook", json.dumps({"sender": "s", "message": str(i)}).encode(),
                {"Content-Type": "application/json"})
    served = {s.name for s in stubs if any(seen[1].startswith("/webhooks/rest/") for seen in s.seen)}
    assert len(served) == len(stubs), served


def request_from(source: str, port: int, path: str, body: bytes) -> Tuple[int, Dict[str, str], bytes]:
    """POST from another loopback address (127.0.0.0/8 is all local on Linux): another client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_a_client_flooding_rest_gets_a_friendly_429_and_others_do_not(nginx: int, stubs: List[Recorder]) -> None:
    body = json.dumps({"sender": "flood", "message": "hi"}).encode()
    answers = [request_from("127.0.0.1", nginx, "/webhooks/rest/webhook", body) for _ in range(60)]
    statuses = [a[0] for a in answers]
    assert statuses[:20] == [200] * 20  # the burst a person never exceeds
    assert statuses.count(429) >= 30
    status, headers, reply = next(a for a in answers if a[0] == 429)
    assert headers["content-type"] == "application/json" and headers["retry-after"] == "10"
    assert headers["x-content-type-options"] == "nosniff"
    assert "Too many messages" in json.loads(reply)["error"]
    reached = sum(1 for s in stubs for seen in s.seen if seen[1].startswith("/webhooks/rest/"))
    assert reached == statuses.count(200)
    # Per client address: another client is not held back by the flood.
    assert request_from("127.0.0.2", nginx, "/webhooks/rest/webhook", body)[0] == 200


def test_socketio_sessions_are_limited_per_client(nginx: int) -> None:
    statuses = [request(nginx, "GET", "/socket.io/?EIO=4&transport=polling")[0] for _ in range(120)]
    assert statuses[:40] == [200] * 40 and 429 in statuses
