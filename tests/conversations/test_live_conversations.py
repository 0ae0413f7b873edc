"""Every conversation of tests/conversations/*.yml against the real stack.

One test per conversation over REST (a fresh sender each), and the conversations
marked `socketio: true` again over socket.io, the web widget's channel. A failure
names the conversation and turn, says what was expected and shows the actual reply.
"""

from __future__ import annotations

import pytest

from tests.conversations.runner import (
    Conversation,
    SocketIOSession,
    load_all,
    rest_sender,
    run_conversation,
    sender_id,
)

pytestmark = pytest.mark.stack

CONVERSATIONS = load_all()
OVER_SOCKETIO = [c for c in CONVERSATIONS if c.socketio]


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.id)
def test_rest(stack, conversation: Conversation) -> None:
    failure = run_conversation(conversation, rest_sender(stack.rest_url, sender_id(conversation)))
    if failure:
        pytest.fail(failure.report(), pytrace=False)


@pytest.mark.parametrize("conversation", OVER_SOCKETIO, ids=lambda c: c.id)
def test_socketio(stack, conversation: Conversation) -> None:
    with SocketIOSession(stack.rasa_url, sender_id(conversation)) as session:
        failure = run_conversation(conversation, session.send, channel="socket.io")
    if failure:
        pytest.fail(failure.report(), pytrace=False)
