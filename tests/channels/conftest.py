"""Fixtures for the channel tests: the fake platform APIs and a real Rasa server."""

from __future__ import annotations

import pytest


@pytest.fixture
def input_guard():
    from safety import input_guard as module

    return module


@pytest.fixture(scope="session")
def fake_platforms():
    """Local stand-in for the Telegram, Twilio, Slack and Graph APIs (recording requests)."""
    from tests.channels.fake_platforms import FakePlatforms

    server = FakePlatforms().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rasa_server(fake_platforms):
    """A real Rasa server with every channel of channels/, and its action server."""
    from tests.channels.rasa_server import RasaServer

    server = RasaServer(fake_url=fake_platforms.url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
