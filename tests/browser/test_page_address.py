"""scripts/web_page.py fills in the example page's Rasa address (no browser needed)."""

from __future__ import annotations

import pytest
from web_page import WEB, browser_host, page_with_server, rasa_address  # scripts/, on sys.path


@pytest.mark.parametrize("host, expected", [
    ("localhost:8080", "localhost"),
    ("clinic.example.org", "clinic.example.org"),
    ("10.0.0.5:8081", "10.0.0.5"),
    ("[::1]:8080", "[::1]"),
    (None, "localhost"),
    ('evil"><script>alert(1)</script>', "localhost"),  # a forged header cannot inject markup
    ("a b:80", "localhost"),
])
def test_the_page_names_the_host_the_browser_used(host: str | None, expected: str) -> None:
    assert browser_host(host) == expected


def test_the_rasa_address_is_the_public_url_else_the_pages_host_at_the_rasa_port() -> None:
    assert rasa_address(None, "clinic.example.org:8080", 5123) == "http://clinic.example.org:5123"
    assert rasa_address("https://chat.example.org", "localhost:8080", 5123) == "https://chat.example.org"
    assert rasa_address("/", "localhost:8080", 5123) == "/"


def test_the_shipped_page_gets_data_server_on_its_one_widget_tag() -> None:
    page = page_with_server((WEB / "index.html").read_text(), 'https://x.example/"q').decode()
    assert page.count('data-server="https://x.example/&quot;q" src="widget.js"') == 1
    with pytest.raises(ValueError):
        page_with_server("<p>no widget</p>", "/")
