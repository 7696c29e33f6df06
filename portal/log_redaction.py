"""Respondents' personal links never reach a log in full.

A link `/phieu/<token>` lets whoever holds it read and answer the respondent's forms, so every
log line (the application's, gunicorn's access and error logs, a traceback) carries
`/phieu/***` instead. The redaction sits in the one place every log record of the
process passes through: the log record factory. A filter on handlers would miss the handlers
added later (gunicorn's, a deployment's own), and a custom access log format would miss the
error log and tracebacks. `install()` is called by create_app (web workers, the worker, the CLI)
and by gunicorn.conf.py (gunicorn's own process, before any app is loaded).
"""

from __future__ import annotations

import logging
import re
import traceback

# The token is the path segment after /phieu/ (also percent-encoded, as in a query string).
_LINK = re.compile(r"(/phieu/|%2Fphieu%2F)[^/\s\"'<>?#&%]+", re.IGNORECASE)
REDACTED_TOKEN = "***"

_installed: list[bool] = [False]


def redact_links(text: str) -> str:
    """The text with the token of every respondent link replaced by `***` (the path around it kept)."""
    return _LINK.sub(lambda match: match.group(1) + REDACTED_TOKEN, text)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
        return
    redacted = redact_links(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[0] is not None:
        # Formatted now, while we can still change it; formatters use exc_text when it is set.
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if _LINK.search(text):
            record.exc_text = redact_links(text)
    if record.stack_info and _LINK.search(record.stack_info):
        record.stack_info = redact_links(record.stack_info)


def install() -> None:
    """Make every log record of this process redact respondent links (once per process)."""
    if _installed[0]:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed[0] = True
