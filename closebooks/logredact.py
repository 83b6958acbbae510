"""Secrets never reach a log: every log record is redacted where it is made, before any handler
(console, file, a test's capture, Sentry) sees it.

Installed as the logging record factory (``install()``, from ``ClosebooksConfig.ready``) rather
than as one handler's filter, so a handler added later, or a library logging at DEBUG, cannot
bypass it. ``RedactSecretsFilter`` does the same for a handler configured in ``LOGGING``."""

import logging
import re

MASK = "[redacted]"
_KEYS = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token|api_?key|"
    r"authorization|sessionid|session_id|ticket|signature|strPassword|senderpassword|private_key|fernet_keys?"
)
_PATTERNS = [
    # key=value, key: value, "key": "value", 'key': 'value' (JSON, dict reprs, form bodies, query strings)
    re.compile(rf"""(?i)(["']?\b[\w-]*(?:{_KEYS})["']?\s*[:=]\s*["']?(?:(?:Bearer|Basic|Token)\s+)?)([^\s"'&,;}}\]<>)]+)"""),
    # an OAuth authorization code in a URL or a form body
    re.compile(r"(?i)((?:^|[?&\s])code=)([^\s&\"'#]+)"),
    # <password>...</password>, <sessionid>...</sessionid>, <strPassword>...</strPassword>
    re.compile(rf"(?i)(<(?:\w+:)?[\w]*(?:{_KEYS})>)([^<]+)(?=</)"),
    # Authorization headers as written out
    re.compile(r"(?i)\b(Bearer\s+|Basic\s+)([A-Za-z0-9._~+/=-]+)"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the record as the logging module would
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install() -> None:
    factory = logging.getLogRecordFactory()
    if getattr(factory, "closebooks_redacts", False):
        return

    def redacting_factory(*args, **kwargs):
        return redact_record(factory(*args, **kwargs))

    redacting_factory.closebooks_redacts = True
    logging.setLogRecordFactory(redacting_factory)
