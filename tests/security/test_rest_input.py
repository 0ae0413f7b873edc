"""The REST channel reads only JSON bodies (real running stack)."""

from __future__ import annotations

import json

import pytest
import requests

from stack import Stack

pytestmark = pytest.mark.stack

BODY = json.dumps({"sender": "rest-input", "message": "what is baclofen?"})


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonp"])
def test_a_body_that_is_not_json_gets_415_and_a_friendly_error(stack: Stack, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = requests.post(stack.rest_url, data=BODY.encode(), headers=headers, timeout=30)
    assert r.status_code == 415
    assert r.headers["Content-Type"].startswith("application/json")
    error = r.json()["error"]
    assert "application/json" in error and "baclofen" not in error  # never echoes the body


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON"])
def test_json_is_answered(stack: Stack, content_type: str) -> None:
    r = requests.post(stack.rest_url, data=BODY.encode(), headers={"Content-Type": content_type}, timeout=60)
    assert r.status_code == 200
    assert any("baclofen" in (m.get("text") or "").lower() for m in r.json())
