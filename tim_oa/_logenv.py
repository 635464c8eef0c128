"""``TIM_OA_LOG=debug|info``: turn the library's logging on without code (as ``OPENAI_LOG`` does).

Read once, when ``tim_oa`` is imported. It puts a stderr handler on the ``tim_oa`` logger (and so
on ``tim_oa.webhooks`` and the others below it) at that level, with the redacting filter that
rewrites any signed URL, so no UserSig reaches the output. An app that configures logging itself
does not need it; the variable adds nothing when unset.
"""

from __future__ import annotations

import logging
import os
import sys

ENV = "TIM_OA_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``TIM_OA_LOG`` adds (one at most)."""


def configure_from_env(environ: dict[str, str] | None = None) -> logging.Handler | None:
    """Apply ``TIM_OA_LOG``; returns the handler added (None when unset, unknown or done)."""
    value = (environ if environ is not None else os.environ).get(ENV, "").strip().lower()
    if not value:
        return None
    logger = logging.getLogger("tim_oa")
    level = _LEVELS.get(value)
    if level is None:
        logger.warning("%s=%r is not one of: debug, info; ignored", ENV, value[:20])
        return None
    if any(isinstance(h, _EnvHandler) for h in logger.handlers):
        return None
    from ._redaction import REDACTING_FILTER

    handler = _EnvHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(REDACTING_FILTER)
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
