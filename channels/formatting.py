"""Channel-aware output formatting: message splitting, numbered options, button memory.

Pure functions and one small class, so every messaging connector formats the same way
and the rules are unit-tested once (tests/channels/test_formatting.py).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# Marks set by actions/compose.py (the contract: replies end with a line starting with
# DISCLAIMER_MARK). Read here so numbered options never push the disclaimer off the end.
from actions.compose import DISCLAIMER_MARK

# Platform limits in characters per message.
TWILIO_BODY_MAX = 1600  # Twilio Messages API: Body <= 1,600 chars on every channel (error 21658)
LIMITS: Dict[str, int] = {
    "sms": TWILIO_BODY_MAX,
    # WhatsApp itself allows 4,096, but we reach it through Twilio whose Body cap is 1,600.
    "whatsapp": min(4096, TWILIO_BODY_MAX),
    "telegram": 4096,  # counted in UTF-16 code units after entity parsing
    "slack_message": 40000,  # chat.postMessage text
    "slack_block": 3000,  # one section block's text
    "messenger": 2000,
}

Button = Dict[str, Any]
Message = Dict[str, Any]


_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]{1,2000})\)")


def plain_links(text: str) -> str:
    """[title](url) → "title (url)" for channels that show text as typed (SMS, WhatsApp,
    Messenger, Telegram without parse mode, Slack plain-text blocks): the source stays
    readable and the address stays tappable."""
    return _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int, size: Callable[[str], int] = len) -> List[str]:
    """Split text into chunks of at most `limit` (as measured by `size`), never inside a word.

    Breaks at line ends first, then between words; only a single word longer than the
    limit is cut. Lines are kept whole whenever they fit, so the last line (the
    disclaimer) always arrives intact in the last chunk and is never dropped.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if size(text) <= limit:
        return [text] if text else []
    units: List[str] = []
    for line in text.split("\n"):
        units.extend(_fit_line(line, limit, size))
    chunks: List[str] = []
    current: Optional[str] = None
    for unit in units:
        candidate = unit if current is None else f"{current}\n{unit}"
        if size(candidate) <= limit:
            current = candidate
        else:
            if current is not None and current.strip():
                chunks.append(current.strip())
            current = unit
    if current is not None and current.strip():
        chunks.append(current.strip())
    return chunks


def _fit_line(line: str, limit: int, size: Callable[[str], int]) -> List[str]:
    """One line as pieces that each fit the limit (greedy by words)."""
    if size(line) <= limit:
        return [line]
    pieces: List[str] = []
    current = ""
    for word in line.split():
        for part in _cut_word(word, limit, size):
            candidate = f"{current} {part}" if current else part
            if size(candidate) <= limit:
                current = candidate
            else:
                pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return pieces


def _cut_word(word: str, limit: int, size: Callable[[str], int]) -> List[str]:
    """A word longer than the limit (a huge URL) is the only thing ever cut."""
    parts: List[str] = []
    while size(word) > limit:
        cut = limit
        while cut > 1 and size(word[:cut]) > limit:
            cut -= 1
        parts.append(word[:cut])
        word = word[cut:]
    parts.append(word)
    return parts


def reply_hint(count: int) -> str:
    """'Reply 1', 'Reply 1 or 2', 'Reply 1, 2 or 3', ..."""
    numbers = [str(i) for i in range(1, count + 1)]
    if count == 1:
        choice = numbers[0]
    else:
        choice = f"{', '.join(numbers[:-1])} or {numbers[-1]}"
    return f"Reply {choice}, or type your question."


def numbered_options(text: str, buttons: Sequence[Button]) -> str:
    """Buttons as a numbered list for text-only channels (SMS, WhatsApp).

    The options go before a trailing disclaimer line so the reply still ends with it.
    """
    options = "\n".join(f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1))
    block = f"{options}\n{reply_hint(len(buttons))}"
    body, disclaimer = _split_disclaimer(text.strip())
    parts = [p for p in (body, block, disclaimer) if p]
    return "\n\n".join(parts)


def _split_disclaimer(text: str) -> Tuple[str, str]:
    lines = text.split("\n")
    if lines and lines[-1].startswith(DISCLAIMER_MARK):
        return "\n".join(lines[:-1]).strip(), lines[-1]
    return text, ""


_NUMBER = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")


class ButtonMemory:
    """The buttons last offered to each sender as numbered options, so "2" maps back.

    Kept in process memory: one Rasa process (our default) sees every message of a
    sender. With several workers or instances a reply may reach a process that did not
    offer the options; it then goes to NLU as the text "2" (never to a wrong payload).
    Bounded: at most `max_senders` entries (least recently offered dropped first) and
    each entry expires after `ttl_seconds`.
    """

    def __init__(self, max_senders: int = 10_000, ttl_seconds: float = 3600.0) -> None:
        self.max_senders = max_senders
        self.ttl_seconds = ttl_seconds
        self._offers: "OrderedDict[str, Tuple[float, List[str]]]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._offers)

    def remember(self, sender_id: str, buttons: Sequence[Button]) -> None:
        payloads = [str(b.get("payload", b.get("title", ""))) for b in buttons]
        key = str(sender_id)
        self._offers.pop(key, None)
        self._offers[key] = (time.monotonic() + self.ttl_seconds, payloads)
        while len(self._offers) > self.max_senders:
            self._offers.popitem(last=False)

    def forget(self, sender_id: str) -> None:
        """The bot said something without options: an old number no longer applies."""
        self._offers.pop(str(sender_id), None)

    def resolve(self, sender_id: str, text: Optional[str]) -> Optional[str]:
        """The payload for a typed option number, or None (then the text goes to NLU)."""
        match = _NUMBER.match(text or "")
        offer = self._offers.get(str(sender_id))
        if not match or offer is None:
            return None
        expires, payloads = offer
        if time.monotonic() > expires:
            self.forget(sender_id)
            return None
        index = int(match.group(1)) - 1
        if not 0 <= index < len(payloads):
            return None
        self.forget(sender_id)
        return payloads[index]


# Content a text-only merge cannot carry (images, attachments, cards, custom JSON).
_RICH_KEYS = ("image", "attachment", "elements", "custom")


def _is_rich(message: Message) -> bool:
    return any(message.get(key) for key in _RICH_KEYS)


def _has_choices(message: Message) -> bool:
    return bool(message.get("buttons") or message.get("quick_replies"))


def merge_messages(messages: Sequence[Message]) -> List[Message]:
    """Join one turn's consecutive text messages into one; buttons stay on the last.

    Used for SMS: separate SMS can arrive out of order, so a reply is sent as one body
    (split only at the 1,600-char limit) and the disclaimer stays at its end.
    """
    merged: List[Message] = []
    for message in messages:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and not _is_rich(message)
            and not _is_rich(previous)
            and not _has_choices(previous)
            and previous.get("text")
            and message.get("text")
        ):
            combined = dict(message)
            combined["text"] = f"{previous['text'].strip()}\n\n{message['text'].strip()}"
            merged[-1] = combined
        else:
            merged.append(dict(message))
    return merged
