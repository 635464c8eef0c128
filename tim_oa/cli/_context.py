"""What every command shares: global options, the session factory, signals, and error reporting.

Errors become one clean line on stderr with the right exit code, scrubbed of secrets. Every
command's event loop runs through :meth:`State.run_async`, so SIGINT, SIGTERM and SIGHUP stop it
cleanly (see ``_signals``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import anyio
import click

import tim_oa

from . import _exitcodes as X
from ._config import ENV, Settings, load_settings
from ._exitcodes import InputError
from ._ids import IdList
from ._output import note
from ._signals import Stopped, StopSignals, signal_name

T = TypeVar("T")

_INDEXED_FIELD = re.compile(r"\[(\d+)\]$")


@dataclass
class State:
    """The root command's options, handed to every command as the click context object."""

    config: Path | None = None
    profile: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    verbose: int = 0
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stop: StopSignals = field(default_factory=StopSignals)
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """The credentials and target, read once (raises :class:`InputError`)."""
        if self._settings is None:
            self._settings = load_settings(
                self.config, self.environ, profile=self.profile, warn=note
            )
        return self._settings

    def session(self, **options: Any) -> tim_oa.Session:
        """A new session for the configured app; ``options`` are extra Session options."""
        if self.timeout is not None:
            options.setdefault("timeout", self.timeout)
        if self.max_retries is not None:
            options.setdefault("max_retries", self.max_retries)
        return self.settings().session(**options)

    @asynccontextmanager
    async def open_session(self, **options: Any) -> AsyncIterator[tim_oa.Session]:
        """``async with state.open_session() as oa``: a session, closed on exit.

        The close is shielded, so a job cancelled by a signal still closes its connections.
        """
        session = self.session(**options)
        try:
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                await session.aclose()

    def run_async(self, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` in an event loop that a stop signal cancels (raises ``Stopped`` then)."""
        return self.stop.run_async(job)

    def secrets(self) -> list[str]:
        """Every secret value this run may know, loaded or not."""
        values = [self.environ.get(ENV["secret_key"], ""), self.environ.get(ENV["usersig"], "")]
        if self._settings is not None:
            values.extend(self._settings.secrets())
        return sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with any secret value replaced by ``<hidden>``."""
        for secret in self.secrets():
            text = text.replace(secret, "<hidden>")
        return text

    def setup_logging(self) -> Callable[[], None]:
        """Send the library's log records to stderr when ``-v`` is given, scrubbed of secrets.

        Returns the function that undoes it.
        """
        if not self.verbose:
            return lambda: None
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_RedactingFilter(self))
        logger = logging.getLogger("tim_oa")
        logger.addHandler(handler)
        previous = logger.level
        logger.setLevel(logging.INFO if self.verbose == 1 else logging.DEBUG)

        def undo() -> None:
            logger.removeHandler(handler)
            logger.setLevel(previous)

        return undo

    def run(self, job: Callable[[], int]) -> NoReturn:
        """Run ``job`` (whose event loop runs through :meth:`run_async`) and exit with its code.

        Errors become one ``error: ...`` line on stderr, never a traceback: input, credential and
        validation problems exit 2; API, network and pagination errors exit 1; a stop signal
        exits 128 + its number.
        """
        try:
            with self.stop:
                code = job()
        except Stopped as stopped:
            note(f"interrupted by {signal_name(stopped.signum)}")
            raise click.exceptions.Exit(stopped.exit_code) from None
        except KeyboardInterrupt:  # outside the main thread no handler is installed
            note("interrupted")
            raise click.exceptions.Exit(X.INTERRUPTED) from None
        except BaseException as exc:
            found = _classify(exc)
            if found is None:
                raise
            message, code = found
            self.fail(message, code)
        raise click.exceptions.Exit(code)

    def fail(self, message: str, code: int = X.USAGE) -> NoReturn:
        """Print ``error: message`` (one line, secrets removed) on stderr and exit with ``code``."""
        line = " ".join(self.redact(message).split())
        note(f"error: {line}")
        raise click.exceptions.Exit(code)


class _RedactingFilter(logging.Filter):
    def __init__(self, state: State) -> None:
        super().__init__()
        self._state = state

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._state.redact(record.getMessage())
        record.args = None
        return True


def _classify(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code for an error the user should see as one line, else None."""
    if isinstance(exc, InputError):
        return str(exc), X.USAGE
    if isinstance(exc, tim_oa.ValidationError):
        return f"invalid input: {exc}", X.USAGE
    if isinstance(exc, tim_oa.TimOAError):
        return f"{type(exc).__name__}: {exc}", X.FAILED
    # Task groups wrap errors in an exception group: report the first one we recognise.
    inner: Sequence[BaseException] = getattr(exc, "exceptions", None) or ()
    for sub in inner:
        found = _classify(sub)
        if found is not None:
            return found
    return None


def locate(exc: tim_oa.ValidationError, ids: IdList) -> InputError | None:
    """Turn the library's complaint about ``ids[i]`` into an error naming the input line."""
    match = _INDEXED_FIELD.search(exc.field or "")
    if match is None:
        return None
    index = int(match.group(1))
    if index >= len(ids):
        return None
    return InputError(f"{ids.where(index)}: {exc}")


@contextmanager
def located_at_input(ids: IdList) -> Iterator[None]:
    """Re-raise the library's complaint about ``ids[i]`` as an error naming the input line."""
    try:
        yield
    except tim_oa.ValidationError as exc:
        located = locate(exc, ids)
        if located is not None:
            raise located from None
        raise
