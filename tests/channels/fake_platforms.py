"""A local HTTP server standing in for the platforms' outgoing APIs (the only thing mocked).

Answers like the real endpoints our connectors call and records every request:
- Telegram Bot API:  POST /bot<token>/<method>                      (aiogram)
- Twilio REST API:   POST /2010-04-01/Accounts/<sid>/Messages.json  (twilio client)
- Slack Web API:     POST /api/chat.postMessage                     (slack_sdk)
- Graph API:         POST /v<version>/me/messages                   (fbmessenger)
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlparse


@dataclass
class Call:
    platform: str
    method: str  # API method: sendMessage, Messages, chat.postMessage, messages
    path: str
    params: Dict[str, Any]
    headers: Dict[str, str]
    query: Dict[str, str]

    @property
    def text(self) -> Optional[str]:
        """The message text this call would have shown the user (None for non-messages)."""
        if self.platform == "telegram" and self.method == "sendMessage":
            return self.params.get("text")
        if self.platform == "twilio":
            return self.params.get("Body")
        if self.platform == "slack" and self.method == "chat.postMessage":
            return self.params.get("text")
        if self.platform == "facebook":
            return (self.params.get("message") or {}).get("text")
        return None

    @property
    def recipient(self) -> Optional[str]:
        if self.platform == "telegram":
            return str(self.params.get("chat_id"))
        if self.platform == "twilio":
            return self.params.get("To")
        if self.platform == "slack":
            return self.params.get("channel")
        if self.platform == "facebook":
            return str((self.params.get("recipient") or {}).get("id"))
        return None


ROUTES: List[Tuple[str, re.Pattern]] = [
    ("telegram", re.compile(r"^/bot[^/]+/(?P<method>\w+)$")),
    ("twilio", re.compile(r"^/2010-04-01/Accounts/[^/]+/(?P<method>Messages)\.json$")),
    ("slack", re.compile(r"^/api/(?P<method>[\w.]+)$")),
    ("facebook", re.compile(r"^/v[\d.]+/me/(?P<method>messages)$")),
]


class FakePlatforms:
    def __init__(self) -> None:
        self.calls: List[Call] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakePlatforms":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def messages(self, platform: str, recipient: Optional[str] = None) -> List[Call]:
        with self._lock:
            return [c for c in self.calls if c.platform == platform and c.text is not None
                    and (recipient is None or c.recipient == recipient)]

    def texts(self, platform: str, recipient: Optional[str] = None) -> List[str]:
        return [c.text or "" for c in self.messages(platform, recipient)]

    def wait_for_texts(self, platform: str, recipient: Optional[str] = None, count: int = 1,
                       timeout: float = 30.0, settle: float = 0.5) -> List[str]:
        """Texts sent to `recipient`, once at least `count` arrived and no more came for `settle` s."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            texts = self.texts(platform, recipient)
            if len(texts) >= count and len(texts) == seen:
                return texts
            seen = len(texts)
            time.sleep(settle if len(texts) >= count else 0.1)
        return self.texts(platform, recipient)

    def api_calls(self, platform: str, method: str) -> List[Call]:
        with self._lock:
            return [c for c in self.calls if c.platform == platform and c.method == method]

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urlparse(self.path)
                params = _parse_body(raw, self.headers.get("Content-Type", ""))
                for platform, pattern in ROUTES:
                    match = pattern.match(parsed.path)
                    if match:
                        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                        call = Call(platform, match.group("method"), parsed.path, params, dict(self.headers), query)
                        fake._record(call)
                        status, body = _answer(call)
                        self._send(status, body)
                        return
                self._send(404, {"error": f"no fake for {parsed.path}"})

            def _send(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _parse_body(raw: bytes, content_type: str) -> Dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        return json.loads(raw.decode())
    if "multipart/form-data" in content_type:
        return _parse_multipart(raw, content_type)
    return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}


def _parse_multipart(raw: bytes, content_type: str) -> Dict[str, Any]:
    boundary = content_type.split("boundary=")[-1].strip('"').encode()
    fields: Dict[str, Any] = {}
    for part in raw.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if name:
            fields[name.group(1).decode()] = value.rstrip(b"\r\n").decode()
    return fields


def _answer(call: Call) -> Tuple[int, Dict[str, Any]]:
    """A minimal success answer of the shape each client library parses."""
    p = call.params
    if call.platform == "telegram":
        if call.method == "sendMessage":
            return 200, {"ok": True, "result": {
                "message_id": 1, "date": int(time.time()),
                "chat": {"id": int(p.get("chat_id", 0)), "type": "private"}, "text": p.get("text", "")}}
        if call.method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "Baclofen",
                                                "username": "baclofen_test_bot"}}
        return 200, {"ok": True, "result": True}
    if call.platform == "twilio":
        return 201, {"sid": "SM" + "0" * 32, "account_sid": "AC" + "0" * 32, "to": p.get("To"),
                     "from": p.get("From"), "body": p.get("Body"), "status": "queued",
                     "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01"}
    if call.platform == "slack":
        return 200, {"ok": True, "channel": p.get("channel"), "ts": f"{time.time():.6f}"}
    return 200, {"recipient_id": (p.get("recipient") or {}).get("id"), "message_id": "m_1"}
