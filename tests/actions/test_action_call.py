"""What Rasa posts to our action server: the tracker, without the domain (a measured saving)."""

from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

BOT = Path(__file__).resolve().parents[2] / "bot"


@pytest.fixture()
def endpoints(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BACLOFEN_ACTIONS_URL", "http://127.0.0.1:5055/webhook")
    monkeypatch.setenv("BACLOFEN_ACTIONS_TOKEN", "t" * 32)  # bot/endpoints.yml sends it (security/action_server.py)
    return read_endpoints_from_path(BOT / "endpoints.yml")


def test_custom_actions_are_called_without_the_domain(endpoints) -> None:
    domain = Domain.load(BOT / "domain.yml")
    custom = [name for name in domain.user_actions if name.startswith("action_")]
    assert "action_answer" in custom
    tracker = DialogueStateTracker("someone", domain.slots)
    for name in custom:
        call = RemoteAction(name, endpoints.action)._action_call_format(tracker, domain)
        assert "domain" not in call, name  # our actions never read it (tests/actions pass {})
        assert call["tracker"]["sender_id"] == "someone" and call["next_action"] == name


def test_without_selective_domain_rasa_would_send_it(endpoints) -> None:
    domain = Domain.load(BOT / "domain.yml")
    endpoints.action.kwargs.pop("enable_selective_domain")
    call = RemoteAction("action_answer", endpoints.action)._action_call_format(
        DialogueStateTracker("someone", domain.slots), domain)
    assert call["domain"] == domain.as_dict()
