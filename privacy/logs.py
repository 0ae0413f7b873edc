"""Redacts personal data from every log record of the process, ours and Rasa's alike.

A log record factory rather than a handler filter: handlers are added and replaced by
Rasa, Sanic and rasa_sdk as they start, while the factory sees each record once, whatever
handler prints it. It runs only for records at an enabled level (Python checks the level
first), so a quiet INFO log pays nothing for Rasa's DEBUG lines with message text.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from privacy.redact import redact

_MARK = "_baclofen_redacting"


def _redacted_record(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            # Exception messages can quote the text ("could not parse 'call me on …'").
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return record

    setattr(make, _MARK, True)
    return make


def install() -> None:
    """Redact every log record from now on (once per process, however often called)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, _MARK, False):
        logging.setLogRecordFactory(_redacted_record(current))
