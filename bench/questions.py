"""The conversations the benchmark's simulated users hold.

Each conversation is what one person might type in one visit: real questions across
every topic, follow-ups that rely on context ("and for children?"), brand and
interacting-drug names, pump questions, greetings and thanks. A turn says what kind
of reply it must get, so that a fast but wrong server counts as failing:

- KB: a knowledge answer, which ends with the disclaimer line;
- EMERGENCY: emergency advice first, then the disclaimer;
- CHAT: any non-empty reply (greetings, thanks, sources, out of scope).

STOCK holds the same kind of mix for the stock `rasa init` assistant, from its own
training data (greetings, moods, bot challenge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

KB = "kb"
EMERGENCY = "emergency"
CHAT = "chat"


@dataclass(frozen=True)
class Turn:
    text: str
    expect: str = KB


Conversation = Tuple[Turn, ...]


def conv(*turns: object) -> Conversation:
    """Plain strings are knowledge questions; (text, expect) pairs say otherwise."""
    return tuple(Turn(t) if isinstance(t, str) else Turn(*t) for t in turns)  # type: ignore[misc]


HI = ("hi", CHAT)
HELLO = ("hello, i have a question about baclofen", CHAT)
THANKS = ("thanks!", CHAT)
THANK_YOU = ("thank you, that helps", CHAT)
BYE = ("bye", CHAT)

OURS: List[Conversation] = [
    conv(HI, "what are the side effects of baclofen?", "which ones are serious?", THANKS, BYE),
    conv("what is baclofen used for", "is it used for cerebral palsy?", "how does baclofen work?"),
    conv(HELLO, "what is the maximum dose of baclofen per day", "and for children?",
         "what about in kidney disease?", THANK_YOU),
    conv("can i take baclofen with oxycodone", "what about with xanax?", "and alcohol?", BYE),
    conv("is it safe to take lioresal with gabapentin", "what about lyrica", THANKS),
    conv("what forms does baclofen come in", "what strengths do the tablets come in",
         "what is ozobax?"),
    conv(HI, "how do i take baclofen, with or without food?", "how long does it take to work?"),
    conv("i forgot to take my baclofen this morning, what should i do",
         "should i take a double dose to catch up?"),
    conv("can i stop taking baclofen suddenly?", "what are the withdrawal symptoms?", THANKS),
    conv("can i drive while taking baclofen", "does it make you sleepy?", BYE),
    conv(HELLO, "is baclofen safe during pregnancy", "and when breastfeeding?", THANK_YOU),
    conv("what happens if you take too much baclofen", "what are the signs of an overdose?"),
    conv("how should i store baclofen tablets", "and the liquid?", THANKS, BYE),
    conv(HI, "how does the baclofen pump work?", "how often does the pump need a refill?",
         "what does it mean when the pump alarm beeps?", THANKS),
    conv("can i have an mri with a baclofen pump", "how long does the pump battery last?", BYE),
    conv("what are the warnings for baclofen", "i have epilepsy, is it safe for me?"),
    conv("what is the starting dose of baclofen", "how quickly is the dose increased?",
         "and for older adults?", THANKS),
    conv(HI, ("where does your information come from?", CHAT), "what are the common side effects?",
         BYE),
    conv(("are you a real person?", CHAT), ("what can you help me with?", CHAT),
         "what is the usual dose of lioresal"),
    conv("can i take baclofen with tramadol", "what about benadryl?", THANKS),
    conv("what is the dose of ozobax liquid in mg", "and the granules?"),
    conv("what are the side effects of intrathecal baclofen", "and what should i do about them?"),
    conv(HELLO, ("what's the dose of ibuprofen for a headache?", CHAT),
         "can i take baclofen with ibuprofen", BYE),
    conv(("my husband took 20 baclofen tablets and won't wake up", EMERGENCY),
         "how many mg of baclofen is an overdose?"),
    conv(("my pump is alarming and i feel itchy and my spasms are much worse", EMERGENCY),
         "how often does the pump need refilling?", THANKS),
    conv("is baclofen addictive?", "is it a controlled substance?", "can i drink wine with it?"),
]

STOCK: List[Conversation] = [
    conv(("hello", CHAT), ("I am feeling great", CHAT), ("bye", CHAT)),
    conv(("hey there", CHAT), ("I am sad", CHAT), ("yes", CHAT), ("goodbye", CHAT)),
    conv(("good morning", CHAT), ("I'm unhappy", CHAT), ("no", CHAT), ("see you later", CHAT)),
    conv(("hi", CHAT), ("are you a bot?", CHAT), ("perfect", CHAT)),
    conv(("good evening", CHAT), ("very good", CHAT), ("cu", CHAT)),
    conv(("hey", CHAT), ("my day was horrible", CHAT), ("indeed", CHAT), ("bye", CHAT)),
    conv(("moin", CHAT), ("I am disappointed", CHAT), ("never", CHAT), ("have a nice day", CHAT)),
    conv(("hello there", CHAT), ("am I talking to a human?", CHAT), ("great", CHAT)),
]

MIXES = {"ours": OURS, "stock": STOCK}


def texts(mix: List[Conversation]) -> List[str]:
    """Every message of a mix once, for the NLU-only (/model/parse) load."""
    return [turn.text for c in mix for turn in c]
