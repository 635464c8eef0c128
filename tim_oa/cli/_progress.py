"""A rich progress bar for bulk jobs, drawn on stderr and only when stderr is a terminal."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

import tim_oa


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class BatchBar:
    """Use as a context manager, and pass the instance as ``on_progress`` of a batch method.

    When disabled (stderr is not a terminal, or ``enabled=False``) it draws nothing, so piped and
    logged runs stay clean.
    """

    def __init__(
        self, description: str, *, total: int | None = None, enabled: bool | None = None
    ) -> None:
        self.enabled = stderr_is_terminal() if enabled is None else enabled
        self._description = description
        self._total = total
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> BatchBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=self._total, failed=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __call__(self, progress: tim_oa.BatchProgress) -> None:
        """Draw a :class:`tim_oa.BatchProgress` update."""
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, completed=progress.done, total=progress.total, failed=progress.failed
            )
