"""Is the person asking us to choose or change *their own* (or their child's) dose?

The assistant never does that: such questions get general facts plus "ask your
clinician". General questions ("what is the maximum dose?") are fine and
return False. Conversions between oral and pump doses are always refused.
"""

from __future__ import annotations

import re

# Who would take the dose: "I", "my son", "my 6-year-old", "he".
_PERSON = r"(?:i|we|he|she|they|(?:my|our|his|her|their)\s+[\w'-]+(?:\s+[\w'-]+)?)"
_MODAL = r"(?:should|can|could|may|might|must|shall|do|would|will|is\s+it\s+(?:ok|okay|safe|alright|fine)\s+(?:for\s+\w+\s+)?to)"
_TAKE = (r"(?:take|taking|have|give|giving|use|try|go|start|get|increase|decrease|reduce|lower|"
         r"raise|up|double|halve|change|adjust|bump|cut|push|add)")
_AMOUNT = (r"(?:\b\d+(?:\.\d+)?\s*(?:mg|mcg|µg|ml|milligrams?|micrograms?|tablets?|pills?|tabs?|doses?)\b|"
           r"\b(?:dose|doses|dosage|dosing|amount|how\s+much|how\s+many|more|less|extra|another|"
           r"double|doubling|triple|increase|increasing|decrease|decreasing|reduce|reducing|lower|"
           r"higher|raise|up\s+my|cut\s+down|cut\s+back|twice)\b)")
_QUANTITY = r"\b\d+(?:\.\d+)?\s*(?:mg|mcg|µg|ml|milligrams?|micrograms?|tablets?|pills?)\b"
_JUDGE = r"(?:ok|okay|safe|alright|fine|right|enough|too\s+much|too\s+high|too\s+low|a\s+lot|normal)"

_PERSONAL_PATTERNS = [
    # "should I take 30 mg...", "can I double my dose", "how much should my 6-year-old take"
    re.compile(rf"\b{_MODAL}\s+{_PERSON}\s+(?:\w+\s+)?{_TAKE}\b"),
    # "is it ok to increase my dose", "can I up my dosage"
    re.compile(rf"\b{_TAKE}\s+(?:my|his|her|our|their)\s+(?:daily\s+|evening\s+|morning\s+|night\s+)?"
               r"(?:dose|doses|dosage|baclofen|tablets?|pills?|meds?)\b"),
    # "is 100 mg ok for me", "is 20mg too much for my son"
    re.compile(rf"{_QUANTITY}.*\b{_JUDGE}\s+for\s+(?:me|him|her|us|them|my\s+[\w'-]+)\b"),
    # "what dose is right for me", "best dose for my daughter"
    re.compile(r"\b(?:dose|dosage|amount)\b.*\bfor\s+(?:me|him|her|us|them|my\s+[\w'-]+)\b"),
    # "how much should I take", "what dose should my daughter have"
    re.compile(rf"\b(?:how\s+much|how\s+many|what\s+dose|what\s+dosage|which\s+dose|what\s+strength)\b"
               rf".*\b(?:should|can|could|do|would|must|shall)\s+{_PERSON}\b"),
]
# Missed or late doses have their own general answer (the missed-dose topic).
_MISSED = re.compile(r"\b(?:missed|miss|missing|forgot|forget|forgotten|skipped|late)\b")
_QUESTION = re.compile(
    r"\?|^(?:should|can|could|may|might|is|are|do|does|would|will|how|what|which|when|am)\b|"
    rf"\b(?:should|can|could|may|shall)\s+{_PERSON}\b|"
    r"\b(?:is\s+it|is\s+that|is\s+this|ok\s+to|okay\s+to|safe\s+to|alright\s+to|wondering|want\s+to\s+know)\b"
)

_ORAL = r"\b(?:oral|by\s+mouth|tablets?|pills?|liquid|mouth|granules)\b"
_PUMP = r"\b(?:pump|intrathecal|itb|spinal)\b"
_CONVERT = (r"\b(?:convert|converting|conversion|switch|switching|swap|swapping|change|changing|"
            r"move|moving|go|going|transfer|transition|equivalent|equivalents|equal|equals|"
            r"same\s+as|compare|compared|comparable|correspond|corresponds|translate|translates|"
            r"match|matches|worth)\b")


def _normalise(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return " ".join(text.lower().replace("’", "'").split())


def is_conversion_request(text: str) -> bool:
    """Asks to convert between oral and pump (intrathecal) doses."""
    t = _normalise(text)
    return bool(re.search(_ORAL, t) and re.search(_PUMP, t) and re.search(_CONVERT, t)
                and re.search(_AMOUNT, t))


def is_personal_dosing_request(text: str) -> bool:
    """Asks what dose a particular person should take, or whether to change it."""
    t = _normalise(text)
    if not t:
        return False
    if is_conversion_request(t):
        return True
    if _MISSED.search(t) or not _QUESTION.search(t) or not re.search(_AMOUNT, t):
        return False
    return any(pattern.search(t) for pattern in _PERSONAL_PATTERNS)
