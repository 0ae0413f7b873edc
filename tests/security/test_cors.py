"""CORS on the running Rasa server: only the allowed origins (security/origins.py), never
with credentials. Rasa 3.6 hard-codes Access-Control-Allow-Credentials: true and the stack
used to start it with `--cors "*"`, so any web page could drive a user's chat."""

from __future__ import annotations

from typing import Dict

import pytest
import requests

from stack import Stack

pytestmark = pytest.mark.stack

FOREIGN = ("http://evil.example", "null", "http://127.0.0.1:1", "http://localhost.evil.example")


def cors_headers(r: requests.Response) -> Dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def page_origin(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.web_port}"


@pytest.mark.parametrize("origin", FOREIGN)
def test_a_foreign_origin_gets_no_cors_allowance(stack: Stack, origin: str) -> None:
    r = requests.post(stack.rest_url, json={"sender": "cors-foreign", "message": "hello"},
                      headers={"Origin": origin}, timeout=60)
    assert r.status_code == 200
    assert cors_headers(r) == {}
    pre = requests.options(stack.rest_url, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in cors_headers(pre)
    assert "access-control-allow-credentials" not in cors_headers(pre)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_example_page_origin_is_allowed_without_credentials(stack: Stack, host: str) -> None:
    origin = f"http://{host}:{stack.web_port}"
    r = requests.post(stack.rest_url, json={"sender": "cors-page", "message": "hello"},
                      headers={"Origin": origin}, timeout=60)
    assert cors_headers(r).get("access-control-allow-origin") == origin
    assert "access-control-allow-credentials" not in cors_headers(r)
    pre = requests.options(stack.rest_url, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert cors_headers(pre).get("access-control-allow-origin") == origin
    assert "access-control-allow-credentials" not in cors_headers(pre)


def test_an_error_response_gets_no_credentials_either(stack: Stack) -> None:
    r = requests.post(stack.rest_url, data=b"{not json", headers={"Origin": "http://evil.example",
                                                                   "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert cors_headers(r) == {}
