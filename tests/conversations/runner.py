"""Live conversation tests: load tests/conversations/*.yml, talk to the real stack, check each turn.

A conversation is a list of turns; each turn is what the user types and what the
joined reply must (and must not) contain. `check_turn` also enforces the reply
invariants every turn must keep whatever it expects (actions/compose.py):
emergency messages first, the disclaimer last and only once, facts never without
the disclaimer, never the safe apology of a broken stack.

Format and how to add a conversation: tests/conversations/README.md.
"""

from __future__ import annotations

import queue
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import requests
import yaml

from actions.compose import APOLOGY as ACTION_APOLOGY
from actions.compose import DISCLAIMER_MARK, EMERGENCY_MARK
from channels.guard import APOLOGY as CHANNEL_APOLOGY
from knowledge.topics import EMERGENCY, TOPICS

HERE = Path(__file__).resolve().parent
# Conversation topics: every knowledge topic plus the non-medical kinds of conversation.
TOPIC_TAGS = TOPICS + (EMERGENCY, "smalltalk", "out_of_scope", "bad_input", "sources", "fallback")
TURN_KEYS = {"user", "repeat", "contains", "contains_any", "not_contains",
             "first_starts_with", "disclaimer", "buttons"}
CONVERSATION_KEYS = {"id", "topic", "socketio", "turns"}

Message = Dict[str, Any]
Send = Callable[[str], List[Message]]


class FormatError(ValueError):
    """A conversation file does not follow the format; the message says where."""


@dataclass(frozen=True)
class Turn:
    user: str
    disclaimer: bool                   # True: last message starts with ℹ️; False: no ℹ️ at all
    contains: Tuple[str, ...] = ()     # every one, case-insensitive, in the joined reply
    contains_any: Tuple[str, ...] = () # at least one of them
    not_contains: Tuple[str, ...] = () # none of them
    first_starts_with: Optional[str] = None
    buttons: Optional[bool] = None     # True: some message offers buttons

    def expected(self) -> str:
        """The expectation in words, for failure reports."""
        parts = [f"last message {'IS' if self.disclaimer else 'is NOT'} the {DISCLAIMER_MARK} disclaimer"]
        if self.first_starts_with:
            parts.append(f"first message starts with {self.first_starts_with!r}")
        if self.contains:
            parts.append(f"contains all of {list(self.contains)}")
        if self.contains_any:
            parts.append(f"contains one of {list(self.contains_any)}")
        if self.not_contains:
            parts.append(f"contains none of {list(self.not_contains)}")
        if self.buttons is not None:
            parts.append("offers buttons" if self.buttons else "offers no buttons")
        return "; ".join(parts)


@dataclass(frozen=True)
class Conversation:
    id: str
    topic: str
    turns: Tuple[Turn, ...]
    socketio: bool = False
    source: str = ""


# --------------------------------------------------------------------------- loading


def _strings(value: Any, where: str, key: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FormatError(f"{where}: `{key}` must be a list of non-empty strings")
    return tuple(value)


def parse_turn(raw: Any, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: a turn must be a mapping")
    unknown = set(raw) - TURN_KEYS
    if unknown:
        raise FormatError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TURN_KEYS)}")
    if not isinstance(raw.get("user"), str):
        raise FormatError(f"{where}: `user` (the message text) is required and must be a string")
    if not isinstance(raw.get("disclaimer"), bool):
        raise FormatError(f"{where}: `disclaimer: true|false` is required")
    repeat = raw.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise FormatError(f"{where}: `repeat` must be a positive whole number")
    first = raw.get("first_starts_with")
    if first is not None and (not isinstance(first, str) or not first):
        raise FormatError(f"{where}: `first_starts_with` must be a non-empty string")
    buttons = raw.get("buttons")
    if buttons is not None and not isinstance(buttons, bool):
        raise FormatError(f"{where}: `buttons` must be true or false")
    return Turn(
        user=raw["user"] * repeat,
        disclaimer=raw["disclaimer"],
        contains=_strings(raw.get("contains"), where, "contains"),
        contains_any=_strings(raw.get("contains_any"), where, "contains_any"),
        not_contains=_strings(raw.get("not_contains"), where, "not_contains"),
        first_starts_with=first,
        buttons=buttons,
    )


def parse_conversation(raw: Any, where: str) -> Conversation:
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: a conversation must be a mapping")
    unknown = set(raw) - CONVERSATION_KEYS
    if unknown:
        raise FormatError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CONVERSATION_KEYS)}")
    conv_id = raw.get("id")
    if not isinstance(conv_id, str) or not conv_id or not conv_id.replace("-", "").replace("_", "").isalnum():
        raise FormatError(f"{where}: `id` is required (letters, digits, - and _)")
    where = f"{where} ({conv_id})"
    if raw.get("topic") not in TOPIC_TAGS:
        raise FormatError(f"{where}: `topic` must be one of {list(TOPIC_TAGS)}")
    turns = raw.get("turns")
    if not isinstance(turns, list) or not turns:
        raise FormatError(f"{where}: `turns` must be a non-empty list")
    if not isinstance(raw.get("socketio", False), bool):
        raise FormatError(f"{where}: `socketio` must be true or false")
    return Conversation(
        id=conv_id,
        topic=raw["topic"],
        turns=tuple(parse_turn(t, f"{where} turn {i}") for i, t in enumerate(turns, 1)),
        socketio=raw.get("socketio", False),
        source=where,
    )


def load_text(text: str, name: str = "<text>") -> List[Conversation]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise FormatError(f"{name}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
        raise FormatError(f"{name}: expected a top-level `conversations:` list")
    return [parse_conversation(c, f"{name} conversation {i}")
            for i, c in enumerate(data["conversations"], 1)]


def load_all(folder: Path = HERE) -> List[Conversation]:
    """Every conversation of every *.yml file in the folder; ids must be unique."""
    conversations: List[Conversation] = []
    for path in sorted(folder.glob("*.yml")):
        conversations += load_text(path.read_text(encoding="utf-8"), path.name)
    seen: Dict[str, str] = {}
    for c in conversations:
        if c.id in seen:
            raise FormatError(f"duplicate conversation id {c.id!r}: {seen[c.id]} and {c.source}")
        seen[c.id] = c.source
    return conversations


# --------------------------------------------------------------------------- checking


def texts(messages: Sequence[Message]) -> List[str]:
    return [m.get("text") or "" for m in messages if isinstance(m, dict)]


def offers_buttons(message: Message) -> bool:
    # REST replies carry `buttons`; Rasa's socket.io output calls them `quick_replies`.
    return bool(message.get("buttons") or message.get("quick_replies"))


def invariant_problems(messages: Sequence[Message]) -> List[str]:
    """What is wrong with a reply whatever the turn expected."""
    if not messages:
        return ["no reply at all"]
    lines = texts(messages)
    joined = "\n".join(lines)
    problems = []
    if any(a in joined for a in (CHANNEL_APOLOGY, ACTION_APOLOGY)):
        problems.append("got the safe apology: something failed inside the stack (see build/logs/)")
    seen_other = False
    for i, line in enumerate(lines, 1):
        if line.startswith(EMERGENCY_MARK):
            if seen_other:
                problems.append(f"emergency message {i} comes after a non-emergency message")
                break
        else:
            seen_other = True
    marks = [i for i, line in enumerate(lines) if line.startswith(DISCLAIMER_MARK)]
    if len(marks) > 1:
        problems.append(f"{len(marks)} disclaimer messages (expected at most one)")
    if marks and marks[-1] != len(lines) - 1:
        problems.append("the disclaimer is not the last message")
    if "Source:" in joined and not marks:
        problems.append("facts with a `Source:` line but no disclaimer")
    return problems


def check_turn(turn: Turn, messages: Sequence[Message]) -> List[str]:
    """Everything wrong with one reply to one turn; an empty list means it passed."""
    problems = invariant_problems(messages)
    if not messages:
        return problems
    lines = texts(messages)
    joined = "\n".join(lines).casefold()
    last_is_disclaimer = lines[-1].startswith(DISCLAIMER_MARK)
    if turn.disclaimer and not last_is_disclaimer:
        problems.append(f"expected the last message to be the disclaimer (starting with {DISCLAIMER_MARK})")
    if not turn.disclaimer and any(line.startswith(DISCLAIMER_MARK) for line in lines):
        problems.append("expected no disclaimer, got one")
    if turn.first_starts_with and not lines[0].startswith(turn.first_starts_with):
        problems.append(f"expected the first message to start with {turn.first_starts_with!r}")
    for wanted in turn.contains:
        if wanted.casefold() not in joined:
            problems.append(f"missing {wanted!r}")
    if turn.contains_any and not any(w.casefold() in joined for w in turn.contains_any):
        problems.append(f"contains none of {list(turn.contains_any)}")
    for unwanted in turn.not_contains:
        if unwanted.casefold() in joined:
            problems.append(f"must not contain {unwanted!r}")
    if turn.buttons is not None and any(offers_buttons(m) for m in messages) != turn.buttons:
        problems.append("expected buttons, got none" if turn.buttons else "expected no buttons, got some")
    return problems


@dataclass
class Failure:
    conversation: Conversation
    turn_number: int                  # 1-based
    problems: List[str]
    actual: List[Message]
    transcript: List[Tuple[str, List[Message]]] = field(default_factory=list)  # earlier turns
    channel: str = "rest"

    def report(self) -> str:
        turn = self.conversation.turns[self.turn_number - 1]
        out = [f"conversation {self.conversation.id!r} [{self.channel}] failed at turn "
               f"{self.turn_number} of {len(self.conversation.turns)} ({self.conversation.source})"]
        for i, (said, reply) in enumerate(self.transcript, 1):
            out.append(f"  turn {i} user: {_short(said)!r}  → {_short(' | '.join(texts(reply)), 160)!r}")
        out.append(f"  user said: {_short(turn.user)!r}")
        out.append(f"  expected: {turn.expected()}")
        out.append("  problems:")
        out += [f"    - {p}" for p in self.problems]
        out.append(f"  ACTUAL reply ({len(self.actual)} message(s)):")
        for i, m in enumerate(self.actual, 1):
            buttons = m.get("buttons") or m.get("quick_replies") or []
            extra = f"   [buttons: {', '.join(str(b.get('title')) for b in buttons)}]" if buttons else ""
            out.append(f"    [{i}] {m.get('text', '')!r}{extra}")
        return "\n".join(out)


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def run_conversation(conversation: Conversation, send: Send, channel: str = "rest") -> Optional[Failure]:
    """Play the turns in order; stop at the first failing turn (later turns depend on it)."""
    transcript: List[Tuple[str, List[Message]]] = []
    for number, turn in enumerate(conversation.turns, 1):
        reply = send(turn.user)
        problems = check_turn(turn, reply)
        if problems:
            return Failure(conversation, number, problems, reply, transcript, channel)
        transcript.append((turn.user, reply))
    return None


def sender_id(conversation: Conversation) -> str:
    """A fresh conversation in Rasa for every run: the id plus a random suffix."""
    return f"conv-{conversation.id}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- channels


def rest_sender(rest_url: str, sender: str, timeout: float = 60.0) -> Send:
    """Send over the REST channel; the reply is the JSON list of bot messages."""

    def send(text: str) -> List[Message]:
        r = requests.post(rest_url, json={"sender": sender, "message": text}, timeout=timeout)
        if r.status_code != 200:
            return [{"text": f"<HTTP {r.status_code}: {r.text[:300]}>"}]
        body = r.json()
        return body if isinstance(body, list) else [{"text": f"<unexpected body: {body!r}>"}]

    return send


class SocketIOSession:
    """The web widget's protocol over socket.io (session_persistence: true).

    A turn's messages arrive as separate `bot_uttered` events with no end marker, so
    a turn ends after the disclaimer (plus a short grace to catch anything wrongly
    sent after it) or after a quiet period with no new message.
    """

    def __init__(self, rasa_url: str, session_id: str, quiet: float = 1.5,
                 after_disclaimer: float = 0.4, timeout: float = 60.0) -> None:
        import socketio  # python-socketio: only the socket.io tests need it

        self.session_id = session_id
        self.quiet, self.after_disclaimer, self.timeout = quiet, after_disclaimer, timeout
        self._inbox: "queue.Queue[Message]" = queue.Queue()
        self._confirmed: "queue.Queue[Any]" = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", lambda data: self._inbox.put(data if isinstance(data, dict) else {"text": str(data)}))
        self.client.on("session_confirm", lambda data: self._confirmed.put(data))
        # Polling needs only `requests`; the sync websocket transport would need websocket-client.
        self.client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])
        self.client.emit("session_request", {"session_id": session_id})
        try:
            self._confirmed.get(timeout=15)
        except queue.Empty:
            self.close()
            raise RuntimeError("socket.io: no session_confirm within 15 s")

    def send(self, text: str) -> List[Message]:
        while not self._inbox.empty():  # anything late from the previous turn is not this reply
            self._inbox.get_nowait()
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        received: List[Message] = []
        try:
            received.append(self._inbox.get(timeout=self.timeout))
        except queue.Empty:
            return received
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            last = received[-1].get("text") or ""
            wait = self.after_disclaimer if last.startswith(DISCLAIMER_MARK) else self.quiet
            try:
                received.append(self._inbox.get(timeout=wait))
            except queue.Empty:
                break
        return received

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - closing a dead connection is not a test failure
            pass

    def __enter__(self) -> "SocketIOSession":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
