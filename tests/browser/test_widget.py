"""The chat widget in a real browser against the real running bot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from stack import Stack, http_get

from .conftest import PAGE_SERVER_PORT, REPO, RESULTS, WebServer, rasa_url, restart_rasa, start_page_stack

pytestmark = [pytest.mark.browser, pytest.mark.stack]

REPLY_TIMEOUT_MS = 30_000
UNAVAILABLE = "Assistant unavailable — please try again later. In an emergency call 911."
GIBBERISH = "blorf zzxq wibble quonk"  # lands in nlu_fallback, which offers topic buttons


# ---- helpers -----------------------------------------------------------------


def launcher(page: Page) -> Locator:
    return page.locator(".bw-launcher")


def chat_input(page: Page) -> Locator:
    return page.locator(".bw-input")


def bot_messages(page: Page) -> Locator:
    return page.locator(".bw-msg--bot")


def user_messages(page: Page) -> Locator:
    return page.locator(".bw-msg--user")


def storage_key(server: str) -> str:
    return f"baclofen-assistant:{server}"


def stored_state(page: Page, server: str) -> dict[str, Any]:
    raw = page.evaluate("key => sessionStorage.getItem(key)", storage_key(server))
    assert raw, "the widget did not save the conversation"
    return json.loads(raw)


def open_widget(page: Page, url: str) -> None:
    """Load the example page, open the widget and wait for the greeting."""
    page.goto(url)
    launcher(page).click()
    expect(page.locator(".bw-panel")).to_be_visible()
    # data-init-payload="/greet" makes the bot introduce itself once connected.
    expect(bot_messages(page).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(".bw-status")).to_be_empty()


def ask(page: Page, text: str) -> int:
    """Type a message and press Enter; wait for the first reply. Returns the
    number of bot messages before the question."""
    before = bot_messages(page).count()
    chat_input(page).fill(text)
    chat_input(page).press("Enter")
    expect(bot_messages(page).nth(before)).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    return before


def wait_for_quick_replies(page: Page) -> Locator:
    """The greeting offers topic buttons; if not, the fallback does."""
    replies = page.locator(".bw-reply")
    try:
        expect(replies.first).to_be_visible(timeout=3_000)
    except AssertionError:
        ask(page, GIBBERISH)
        expect(replies.first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    return replies


def shadow_active_class(page: Page) -> str:
    """Class of the focused element inside the widget's shadow root ('' if none)."""
    return page.evaluate(
        """() => {
            const host = document.getElementById('baclofen-assistant-widget');
            const el = host && host.shadowRoot.activeElement;
            return el ? el.className : '';
        }"""
    )


# ---- tests -------------------------------------------------------------------


def test_answer_shows_disclaimer_box(page: Page, web: WebServer) -> None:
    open_widget(page, web.page_url())
    infos_before = page.locator(".bw-kind--info").count()
    before = ask(page, "what are the side effects of baclofen?")

    expect(user_messages(page).last).to_contain_text("what are the side effects of baclofen?")
    answer = bot_messages(page).nth(before)
    expect(answer).to_contain_text(re.compile(r"side effect|drows|sleep|dizz", re.I))
    # The disclaimer ("ℹ️ ...") arrives as its own muted info box.
    disclaimer = page.locator(".bw-kind--info").nth(infos_before)
    expect(disclaimer).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(disclaimer).to_contain_text(re.compile(r"clinician|doctor|pharmacist", re.I))
    expect(page.locator(".bw-typing")).to_be_hidden()
    # Each message carries a time stamp.
    expect(answer.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    # Answers come from cited sources: no reply may contain raw HTML markup.
    assert page.locator(".bw-log script, .bw-log img, .bw-log iframe").count() == 0

    RESULTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the last parts of the reply arrive
    page.screenshot(path=str(RESULTS / "widget-answer.png"))


def test_an_answer_is_one_bubble_with_a_linked_source_footer(page: Page, web: WebServer) -> None:
    """Issue 13's example: the strengths, in one bubble whose source line is a separate,
    differently styled element linking to the label, with its review date."""
    open_widget(page, web.page_url())
    before = ask(page, "what strengths are there")
    answer = bot_messages(page).nth(before)
    expect(answer).to_contain_text("5 mg, 10 mg, 15 mg and 20 mg")
    footer = answer.locator("footer.bw-sources")
    expect(footer).to_be_visible()
    expect(footer).to_contain_text(re.compile(r"Reviewed \d{1,2} \w{3} \d{4}"))
    link = footer.locator("a").first
    expect(link).to_have_attribute("href", re.compile(r"^https://dailymed\.nlm\.nih\.gov/"))
    # The footer looks different from the answer's text.
    body_size, footer_size = page.evaluate(
        """() => {
            const root = document.getElementById('baclofen-assistant-widget').shadowRoot;
            const bubbles = root.querySelectorAll('.bw-msg--bot .bw-bubble');
            const bubble = [...bubbles].find(b => b.querySelector('footer.bw-sources'));
            const p = bubble.querySelector(':scope > p');
            return [getComputedStyle(p).fontSize, getComputedStyle(bubble.querySelector('footer .bw-source')).fontSize];
        }"""
    )
    assert float(footer_size[:-2]) < float(body_size[:-2]), (body_size, footer_size)
    # The disclaimer follows as its own info box: the answer itself is one bubble.
    expect(page.locator(".bw-kind--info").last).to_contain_text(re.compile(r"pharmacist|doctor", re.I))
    expect(bot_messages(page)).to_have_count(before + 2)


def test_quick_reply_sends_payload_and_shows_title(page: Page, web: WebServer) -> None:
    open_widget(page, web.page_url())
    replies = wait_for_quick_replies(page)
    title = replies.first.inner_text().strip()
    users_before = user_messages(page).count()
    bots_before = bot_messages(page).count()

    replies.first.click()

    expect(user_messages(page).nth(users_before)).to_contain_text(title)
    # The payload (e.g. "/ask_side_effects") is sent, never shown.
    assert not user_messages(page).nth(users_before).inner_text().strip().startswith("/")
    expect(bot_messages(page).nth(bots_before)).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    assert not bot_messages(page).nth(bots_before).inner_text().strip() == ""
    expect(chat_input(page)).to_be_focused()


def socket_events(page: Page) -> list[tuple[str, Any]]:
    """Record the socket.io events the page sends (websocket frames "42[name, data]")."""
    sent: list[tuple[str, Any]] = []

    def on_frame(payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith("42"):
            name, *data = json.loads(payload[2:])
            sent.append((name, data[0] if data else None))

    page.on("websocket", lambda ws: ws.on("framesent", on_frame))
    return sent


def test_conversation_survives_reload(page: Page, web: WebServer) -> None:
    sent = socket_events(page)
    open_widget(page, web.page_url())
    ask(page, "what are the side effects of baclofen?")
    page.wait_for_timeout(1_000)  # all parts of the answer
    texts_before = page.locator(".bw-bubble").all_inner_texts()
    session_id = stored_state(page, web.default_rasa_url)["sessionId"]
    # A first visit asks for a session; the id kept is the one the server issued (signed).
    assert sent[0] == ("session_request", {"session_id": None})
    assert len(session_id) == 57 and session_id[32] == "-", session_id
    assert ("user_uttered", {"message": "what are the side effects of baclofen?", "session_id": session_id}) in sent
    sent.clear()

    page.reload()

    expect(page.locator(".bw-panel")).to_be_visible()  # reopened as it was
    expect(page.locator(".bw-bubble")).to_have_count(len(texts_before))
    assert page.locator(".bw-bubble").all_inner_texts() == texts_before
    expect(page.locator(".bw-status")).to_be_empty(timeout=REPLY_TIMEOUT_MS)  # connected again
    assert stored_state(page, web.default_rasa_url)["sessionId"] == session_id

    # The new socket rejoins the same Rasa conversation and keeps talking in it.
    ask(page, "hello")
    assert sent[0] == ("session_request", {"session_id": session_id})
    assert ("user_uttered", {"message": "hello", "session_id": session_id}) in sent
    assert not any(name == "user_uttered" and data["message"].startswith("/") for name, data in sent)  # no re-greet


def test_keyboard_only(page: Page, web: WebServer) -> None:
    page.goto(web.page_url())
    page.locator("body").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if "bw-launcher" in shadow_active_class(page):
            break
    else:
        raise AssertionError("Tab never reached the widget launcher")

    page.keyboard.press("Enter")
    expect(page.locator(".bw-panel")).to_be_visible()
    expect(chat_input(page)).to_be_focused()
    expect(bot_messages(page).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)

    before = bot_messages(page).count()
    page.keyboard.type("what are the side effects of baclofen?")
    page.keyboard.press("Enter")
    expect(bot_messages(page).nth(before)).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    wait_for_quick_replies(page)

    # Quick replies sit just before the input: Shift+Tab reaches them.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if "bw-reply" in shadow_active_class(page):
            break
    else:
        raise AssertionError("keyboard focus never reached a quick reply")
    title = page.evaluate(
        "() => document.getElementById('baclofen-assistant-widget').shadowRoot.activeElement.textContent"
    )
    users_before = user_messages(page).count()
    page.keyboard.press("Enter")
    expect(user_messages(page).nth(users_before)).to_contain_text(title)
    expect(chat_input(page)).to_be_focused()  # focus is not lost when the buttons go away

    page.keyboard.press("Escape")
    expect(page.locator(".bw-panel")).to_be_hidden()
    assert "bw-launcher" in shadow_active_class(page)
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")


def test_accessibility_scan(page: Page, web: WebServer, axe_source: str) -> None:
    open_widget(page, web.page_url())
    ask(page, "what are the side effects of baclofen?")
    wait_for_quick_replies(page)
    page.wait_for_timeout(500)
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
        })"""
    )
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    # The scan looked inside the widget's shadow root, not only the host page.
    checked = json.dumps(result["passes"])
    assert "bw-input" in checked or "#baclofen-assistant-widget" in checked

    # Accessible names and roles that screen readers rely on.
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("textbox", name="Your question about baclofen")).to_be_visible()
    expect(page.get_by_role("dialog", name="Baclofen Assistant")).to_be_visible()


def test_emergency_reply_is_an_alert(page: Page, web: WebServer) -> None:
    open_widget(page, web.page_url())
    ask(page, "I can't breathe after taking my baclofen")
    alert = page.locator(".bw-kind--emergency .bw-bubble[role=alert]").first
    expect(alert).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(alert).to_contain_text("911")
    border = alert.evaluate("el => getComputedStyle(el).borderTopColor")
    assert border == "rgb(179, 38, 30)"  # the red alert border


def _first_reply_bubble_in_view(page: Page, before: int) -> None:
    """After the whole reply has arrived, its first bubble is inside the log's visible area."""
    expect(page.locator(".bw-kind--info").last).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    page.wait_for_timeout(500)  # let the last parts of the reply arrive and lay out
    first, log = page.evaluate(
        """(before) => {
            const root = document.getElementById('baclofen-assistant-widget').shadowRoot;
            const first = root.querySelectorAll('.bw-msg--bot')[before].getBoundingClientRect();
            const log = root.querySelector('.bw-log').getBoundingClientRect();
            return [{top: first.top, bottom: first.bottom}, {top: log.top, bottom: log.bottom}];
        }""",
        before,
    )
    assert log["top"] - 1 <= first["top"] < log["bottom"], (first, log)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 720}, {"width": 375, "height": 667}],
                         ids=["desktop", "375px"])
def test_an_emergency_reply_keeps_its_first_bubble_in_view(browser: Browser, web: WebServer, viewport) -> None:
    """A long reply (🚨 card, the answer, the disclaimer) must not scroll "Call 911 now…" off
    the top: the widget shows the reply from its first bubble."""
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        open_widget(page, web.page_url())
        for question in ("what are the side effects of baclofen?", "how should I store it?"):
            disclaimers = page.locator(".bw-kind--info").count()
            ask(page, question)  # fill the log so that it scrolls
            # This answer's own disclaimer (not the previous one's): the whole reply is in.
            expect(page.locator(".bw-kind--info")).to_have_count(disclaimers + 1, timeout=REPLY_TIMEOUT_MS)
        before = ask(page, "my husband took 20 baclofen tablets and won't wake up, how much is too much?")
        expect(bot_messages(page).nth(before)).to_contain_text("911")
        _first_reply_bubble_in_view(page, before)
        page.screenshot(path=str(RESULTS / f"widget-emergency-{viewport['width']}.png"))
    finally:
        context.close()


def test_markup_in_messages_is_text(page: Page, web: WebServer) -> None:
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    open_widget(page, web.page_url())
    chat_input(page).fill(hostile)
    chat_input(page).press("Enter")
    expect(user_messages(page).last.locator(".bw-bubble")).to_contain_text(hostile)
    page.wait_for_timeout(2_000)  # whatever the bot answers, nothing may run

    # A tampered transcript in storage is rendered as text too (restore path).
    state = stored_state(page, web.default_rasa_url)
    state["messages"].append(
        {
            "from": "bot",
            "ts": 1_700_000_000_000,
            "text": '<img src=y onerror="window.__xss=3"> **bold** [click](javascript:window.__xss=4) '
            "[label](data:text/html,hi) see https://example.org/page.",
            "replies": [{"title": "<b>x</b>", "payload": "/greet"}],
        }
    )
    page.evaluate("([k, v]) => sessionStorage.setItem(k, v)", [storage_key(web.default_rasa_url), json.dumps(state)])
    page.reload()
    last = bot_messages(page).last
    expect(last).to_contain_text('<img src=y onerror="window.__xss=3">')
    expect(last).to_contain_text("[click](javascript:window.__xss=4)")
    expect(last.locator("strong")).to_have_text("bold")
    links = last.locator("a")
    expect(links).to_have_count(1)  # only the https URL became a link
    expect(links).to_have_attribute("href", "https://example.org/page")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator(".bw-reply").last).to_have_text("<b>x</b>")

    assert page.locator(".bw-log img, .bw-log script, .bw-log b").count() == 0
    assert page.evaluate("() => window.__xss") is None


def test_a_tampered_session_id_is_replaced_by_one_the_server_issues(page: Page, web: WebServer) -> None:
    forged = "0123456789abcdef0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAA"
    page.goto(web.page_url())
    page.evaluate("([key, id]) => sessionStorage.setItem(key, JSON.stringify({sessionId: id, messages: []}))",
                  [storage_key(web.default_rasa_url), forged])
    open_widget(page, web.page_url())
    ask(page, "hello")
    session_id = stored_state(page, web.default_rasa_url)["sessionId"]
    assert session_id != forged and len(session_id) == 57, session_id


def test_new_conversation_starts_fresh(page: Page, web: WebServer) -> None:
    open_widget(page, web.page_url())
    ask(page, "what are the side effects of baclofen?")
    old_id = stored_state(page, web.default_rasa_url)["sessionId"]

    page.locator(".bw-new").click()

    expect(user_messages(page)).to_have_count(0)
    expect(bot_messages(page).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)  # greeted again
    new_state = stored_state(page, web.default_rasa_url)
    assert new_state["sessionId"] != old_id
    assert all(m["from"] == "bot" for m in new_state["messages"])
    assert "what are the side effects of baclofen?" not in json.dumps(new_state)


def test_mobile_layout_is_full_screen(browser: Browser, web: WebServer) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(web.page_url())
        launcher(page).click()
        box = page.locator(".bw-panel").bounding_box()
        assert box == {"x": 0, "y": 0, "width": 375, "height": 667}
        # Full screen hides the page behind, so Tab must stay inside the chat.
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate(
                """() => {
                    const root = document.getElementById('baclofen-assistant-widget').shadowRoot;
                    return !!root.activeElement && root.querySelector('.bw-panel').contains(root.activeElement);
                }"""
            )
        page.locator(".bw-close").click()
        expect(page.locator(".bw-panel")).to_be_hidden()
    finally:
        context.close()


def test_server_gone_then_back(page: Page, web: WebServer) -> None:
    # Its own stack: stopping the shared one would break the other tests.
    own = start_page_stack(with_web=False)
    try:
        open_widget(page, web.page_url(rasa_url(own)))
        status = page.locator(".bw-status")
        # Record every status text: Rasa's graceful shutdown can outlast the
        # "Reconnecting…" phase, so it is checked in the history afterwards.
        page.evaluate(
            """() => {
                const el = document.getElementById('baclofen-assistant-widget').shadowRoot.querySelector('.bw-status');
                window.__statuses = [];
                new MutationObserver(() => window.__statuses.push(el.textContent))
                    .observe(el, {childList: true, characterData: true, subtree: true});
            }"""
        )
        own.stop_part("Rasa server")
        expect(status).to_have_text(UNAVAILABLE, timeout=20_000)
        expect(status).to_be_visible()
        assert "Reconnecting…" in page.evaluate("() => window.__statuses")
        # Sending while down keeps the text and says it was not sent.
        chat_input(page).fill("are you there?")
        chat_input(page).press("Enter")
        expect(status).to_contain_text("not sent")
        expect(chat_input(page)).to_have_value("are you there?")

        restart_rasa(own)
        # socket.io keeps retrying (back-off up to 5 s): the widget recovers by itself.
        expect(status).not_to_contain_text("unavailable", timeout=30_000)
        expect(status).not_to_contain_text("Reconnecting", timeout=30_000)
        ask(page, "hello")
    finally:
        own.stop()


# ---- the page `make run` serves finds its own Rasa ---------------------------------------


def socket_io_ports(page: Page) -> list[int | None]:
    """Start recording the port of every socket.io connection the page makes (websocket
    or polling); the returned list fills as the page runs."""
    ports: list[int | None] = []
    page.on("websocket", lambda ws: ports.append(urllib.parse.urlsplit(ws.url).port))
    page.on("request", lambda r: ports.append(urllib.parse.urlsplit(r.url).port) if "/socket.io/" in r.url else None)
    return ports


@contextmanager
def page_server(*args: str) -> Iterator[str]:
    """scripts/web_page.py (the web part of `make run`) on a free port; yields the page URL."""
    port = PAGE_SERVER_PORT  # an origin the test stack allows
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "web_page.py"), "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}/"
    try:
        deadline = time.monotonic() + 15
        while http_get(url) is None:
            assert proc.poll() is None and time.monotonic() < deadline, "the page server did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_page_the_stack_serves_chats_with_that_stack(page: Page, stack: Stack) -> None:
    """The stack's own web part on its free ports, the page as served: nothing inserts the
    address. The old page guessed port 5005, i.e. no Rasa or another copy's."""
    assert stack.rasa_port != 5005
    ports = socket_io_ports(page)
    open_widget(page, f"http://localhost:{stack.web_port}/")
    before = ask(page, "what are the side effects of baclofen?")
    expect(bot_messages(page).nth(before)).to_contain_text(re.compile(r"side effect|drows|sleep|dizz", re.I))
    assert ports and set(ports) == {stack.rasa_port}, ports


def test_a_public_rasa_url_is_what_the_page_uses(page: Page, stack: Stack) -> None:
    """BACLOFEN_PUBLIC_RASA_URL (here the stack's Rasa by another name than the page's host)."""
    public = f"http://127.0.0.1:{stack.rasa_port}"
    with page_server("--rasa-port", "5005", "--public-rasa-url", public) as url:
        ports = socket_io_ports(page)
        open_widget(page, url)
        ask(page, "hello")
    assert ports and set(ports) == {stack.rasa_port}, ports
    assert stored_state(page, public)["sessionId"]


def test_a_relative_public_rasa_url_means_the_pages_own_origin(page: Page) -> None:
    """Behind a reverse proxy that serves Rasa's /socket.io beside the page: data-server="/"
    (what deploy/'s nginx writes into the page). Nothing answers socket.io here: the
    widget's first connection attempt, to the page's own port, is what is checked."""
    with page_server("--rasa-port", "5005", "--public-rasa-url", "/") as url:
        ports = socket_io_ports(page)
        page.goto(url)
        launcher(page).click()
        expect(page.locator(".bw-panel")).to_be_visible()
        deadline = time.monotonic() + 10
        while not ports and time.monotonic() < deadline:
            page.wait_for_timeout(200)
    assert ports and set(ports) == {urllib.parse.urlsplit(url).port}, ports
