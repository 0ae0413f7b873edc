"""Topic ids: the one vocabulary shared by content, NLU intents and actions.

Every knowledge entry has one of TOPICS (an `ask_<topic>` intent routes there, and
the topic chooses who the closing line refers the person to). Inside a topic, an
entry's `subtopic` is a free id written in the entry itself: adding a fact never
needs a change here. "overview" marks a topic's general answer.

Emergency entries are the exception: their subtopic is a red-flag kind, because the
red-flag detector (safety/red_flags.py) names the advice it needs by kind.
"""

from typing import Tuple

TOPICS: Tuple[str, ...] = (
    "about", "uses", "forms", "dosage", "how_to_take", "missed_dose", "stopping",
    "side_effects", "interactions", "warnings", "driving", "pregnancy", "overdose",
    "storage", "pump",
)
EMERGENCY = "emergency"
OVERVIEW = "overview"

# Subtopics of emergency entries: the kinds the red-flag detector reports.
RED_FLAG_KINDS: Tuple[str, ...] = (
    "general", "overdose", "child_ingestion", "unresponsive", "breathing", "seizure",
    "withdrawal_oral", "pump_withdrawal", "pump_alarm", "fever_rigidity",
    "pump_infection", "newborn", "self_harm", "kidney_confusion",
)

# Lexicon `populations` and `forms` ids. An entry whose subtopic is one of them is
# about that group or form, and is preferred when the conversation is about it.
POPULATIONS: Tuple[str, ...] = ("children", "older_adults", "kidney", "pregnancy", "breastfeeding")
FORMS: Tuple[str, ...] = ("tablets", "liquid", "granules", "intrathecal")


def is_topic(topic: object) -> bool:
    """An answerable knowledge topic (emergency advice is not one)."""
    return isinstance(topic, str) and topic in TOPICS
