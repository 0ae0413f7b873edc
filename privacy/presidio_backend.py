"""Presidio's recognisers as a redaction backend, measured against ours (privacy/evaluate.py).

Presidio's pattern recognisers are called directly: its AnalyzerEngine would also run a spaCy
pipeline over every message for context words, which these recognisers do not need here.
E-mail validation is turned off: it looks the domain up with tldextract, which downloads the
public-suffix list on first use, and this product runs offline.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence

from presidio_analyzer.predefined_recognizers import (
    DateRecognizer, EmailRecognizer, NhsRecognizer, PhoneRecognizer)

from privacy import redact
from privacy.redact import Span

KINDS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "UK_NHS": "ID", "DATE_TIME": "DOB"}


class _OfflineEmail(EmailRecognizer):
    def validate_result(self, pattern_text: str) -> None:  # no tldextract download
        return None


@lru_cache(maxsize=1)
def _recognisers() -> list:
    return [_OfflineEmail(), PhoneRecognizer(supported_regions=("GB", "US")), NhsRecognizer(), DateRecognizer()]


def find_presidio_only(text: str) -> List[Span]:
    spans = []
    for rec in _recognisers():
        for r in rec.analyze(text, rec.supported_entities, None):
            kind = KINDS.get(r.entity_type)
            if kind == "DOB" and not redact.BIRTH_CUE.search(text[:r.start]):
                continue  # a date that is not a birth date is medical meaning
            if kind:
                spans.append(Span(r.start, r.end, kind))
    return spans


def find(text: str) -> Sequence[Span]:
    """Presidio for emails, phones, NHS numbers and dates; our recognisers for the rest."""
    spans = find_presidio_only(text)
    spans += [*redact._birth_dates(text), *redact._addresses(text), *redact._names(text)]
    return sorted(set(spans), key=lambda s: (s.start, -s.end))
