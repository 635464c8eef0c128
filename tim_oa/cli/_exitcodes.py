"""The command line's exit codes, and the exception for problems that are the caller's to fix."""

from __future__ import annotations

from typing import Final

OK: Final = 0
"""Everything succeeded."""

FAILED: Final = 1
"""The API refused a request, a transport error survived the retries, or some ids failed."""

USAGE: Final = 2
"""Bad arguments, unreadable or malformed input, missing or invalid credentials."""

INTERRUPTED: Final = 130
"""Stopped with Ctrl-C (128 + SIGINT, as shells report it); SIGTERM gives 143, SIGHUP 129."""

EPILOG: Final = (
    "Exit codes: 0 success; 1 an API or network error, or some ids of a bulk job failed; "
    "2 bad usage, malformed input or missing credentials; 128+N stopped by signal N (130 "
    "Ctrl-C, 143 SIGTERM, 129 SIGHUP: a bulk job then writes its unconfirmed ids to "
    "--failed-ids)."
)


class InputError(Exception):
    """A problem with the command's input, configuration or credentials (exit code 2).

    The message is shown as is, so it must never contain a credential.
    """
