"""The log filter that keeps UserSigs out of the HTTP stacks' log records.

httpx and httpx2 log every request with its full URL at INFO level, httpcore and httpcore2 log
request lines at DEBUG, and the URL carries the UserSig in its query. :func:`install_log_redaction`
puts :data:`REDACTING_FILTER` on those loggers. Importing this module installs nothing: every
transport calls it when it is built (so a Session covers the stack it uses), and an application
may call it itself.
"""

from __future__ import annotations

import logging

from ._wire import redact

REDACTED_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2", "aiohttp")
"""The top-level loggers whose records (and whose children's) are redacted."""


class _RedactingFilter(logging.Filter):
    """Rewrites log records so no UserSig reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTING_FILTER = _RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers of the HTTP stacks (idempotent).

    A logger's filters only see records made on that very logger, not those its children
    propagate (``httpcore.http11`` logs request lines and headers at DEBUG), so the filter goes on
    every existing logger under :data:`REDACTED_LOGGERS`. Transports call this when they are
    built, after importing their stack, so loggers that stack created are covered.
    """
    existing = [n for n in list(logging.Logger.manager.loggerDict) if isinstance(n, str)]
    for name in {*REDACTED_LOGGERS, *existing}:
        if name.split(".", 1)[0] not in REDACTED_LOGGERS:
            continue
        logger = logging.getLogger(name)
        if REDACTING_FILTER not in logger.filters:
            logger.addFilter(REDACTING_FILTER)
