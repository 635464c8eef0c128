"""Options shared by several commands, and the plumbing of bulk jobs and listings."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import click

import tim_oa

from ._context import State, located_at_input
from ._exitcodes import FAILED, OK, InputError
from ._ids import FORMATS, IdList, from_options, read_ids
from ._output import (
    OUTCOME_COLUMNS,
    OUTPUT_FORMATS,
    IdFile,
    RecordWriter,
    format_seconds,
    note,
    outcome_record,
    stdin_bytes,
)
from ._progress import BatchBar

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

DEFAULT_CONCURRENCY: Final = 10


def output_option(func: F) -> F:
    """``--output jsonl|csv``."""
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Choice(OUTPUT_FORMATS),
        default="jsonl",
        show_default=True,
        help="Format of the records written to stdout.",
    )(func)


def id_input_options(noun: str) -> Callable[[F], F]:
    """``[SOURCE]``, ``--id``, ``--format``, ``--column``/``--key``, ``--header/--no-header``."""

    def decorate(func: F) -> F:
        options = [
            click.argument("source", required=False, metavar="[FILE|-]"),
            click.option(
                "--id",
                "id_values",
                multiple=True,
                metavar=noun.upper().replace(" ", "_"),
                help=f"A {noun} given directly; repeatable, instead of FILE.",
            ),
            click.option(
                "--format",
                "input_format",
                type=click.Choice(FORMATS),
                default="auto",
                show_default=True,
                help="How FILE is laid out: one id per line (blank lines and # comments "
                "skipped), CSV, or JSON lines (a string, or an object holding the id). "
                "auto picks by suffix: .csv, .jsonl/.ndjson, else lines.",
            ),
            click.option(
                "--column",
                "--key",
                "column",
                metavar="NAME",
                help="The CSV column (named in a header row) or JSON key holding the id "
                "(default: the first CSV column; the JSON key 'id').",
            ),
            click.option(
                "--header/--no-header",
                default=None,
                help="Whether a CSV file starts with a header row (default: only with --column).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def bulk_options(func: F) -> F:
    """``--concurrency`` and ``--failed-ids`` for batch commands."""
    func = click.option(
        "--failed-ids",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help="Write the ids that failed here, one per line, to re-run just those.",
    )(func)
    func = click.option(
        "--concurrency",
        type=click.IntRange(min=1, max=100),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight at once.",
    )(func)
    return func


def listing_options(max_page_size: int, default_page_size: int) -> Callable[[F], F]:
    """``--page-size`` and ``--max-items`` for listings."""

    def decorate(func: F) -> F:
        func = click.option(
            "--max-items",
            type=click.IntRange(min=1),
            help="Stop after this many items and print the cursor to resume from (stderr).",
        )(func)
        func = click.option(
            "--page-size",
            type=click.IntRange(1, max_page_size),
            default=default_page_size,
            show_default=True,
            help="Items per request.",
        )(func)
        return func

    return decorate


def gather_ids(
    source: str | None,
    id_values: Sequence[str],
    input_format: str,
    column: str | None,
    header: bool | None,
    noun: str,
) -> IdList:
    """The ids of a bulk command, from FILE/stdin or ``--id`` (exactly one of them)."""
    if source is not None and id_values:
        raise InputError(f"give {noun}s in FILE or with --id, not both")
    if source is None and not id_values:
        raise InputError(f"no {noun}s: give a FILE (or - for stdin) or --id")
    if source is None:
        return from_options(id_values)
    stdin = stdin_bytes()
    return read_ids(source, stdin, fmt=input_format, column=column, header=header)


def run_batch_command(
    state: State,
    label: str,
    ids: IdList,
    call: Callable[[tim_oa.Session, list[str], BatchBar], Awaitable[tim_oa.BatchResult]],
    *,
    output: str,
    failed_ids: Path | None,
    concurrency: int,
) -> int:
    """Run one bulk job and report it; returns the exit code (1 when any id failed)."""
    failed_file = IdFile(failed_ids) if failed_ids is not None else None
    if not ids.ids:
        note(f"warning: no ids in {ids.source}; nothing to do")
    writer = RecordWriter(sys.stdout, output, columns=OUTCOME_COLUMNS)
    started = time.perf_counter()
    bar = BatchBar(label, total=len(set(ids.ids)))

    async def job() -> tim_oa.BatchResult:
        async with state.open_session(max_concurrency=concurrency) as oa:
            with bar, located_at_input(ids):
                return await call(oa, ids.ids, bar)

    try:
        result = _anyio_run(job)
    except BaseException as exc:
        if failed_file is not None:
            if isinstance(exc, KeyboardInterrupt):
                # Interrupted mid-job: every id not yet confirmed goes to the file, so a re-run
                # with it finishes the job (repeating an add or a remove is harmless).
                pending = [i for i in dict.fromkeys(ids.ids) if i not in bar.settled]
                failed_file.write(pending)
                note(
                    f"{label}: interrupted; {len(bar.settled)} ids done, {len(pending)} not "
                    f"confirmed written to {failed_file.path}"
                )
            failed_file.close()
        raise
    for outcome in result.outcomes.values():
        writer.write(outcome_record(outcome, state.redact))
    writer.flush()
    failed = result.failed
    first_error = _first_error(result)
    if first_error is not None:
        note(f"error: {state.redact(first_error)}")
    summary = (
        f"{label}: {len(ids.ids)} ids ({len(result)} distinct): {len(result.succeeded)} "
        f"succeeded, {len(result.unchanged)} unchanged, {len(failed)} failed "
        f"in {format_seconds(time.perf_counter() - started)}"
    )
    return finish_job(summary, failed, failed_file)


def finish_job(summary: str, failed: list[str], failed_file: IdFile | None) -> int:
    """Write the failed ids (if asked), print the summary, and return the exit code."""
    if failed_file is not None:
        failed_file.write(failed)
        summary += f"; failed ids written to {failed_file.path}"
    note(summary)
    return FAILED if failed else OK


@asynccontextmanager
async def _closing(iterator: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T], None]:
    """Close an async generator on exit, even when the loop over it stops early."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _first_error(result: tim_oa.BatchResult) -> str | None:
    """The first chunk-level error of a batch (what stopped it, for an aborted job)."""
    for error in result.errors().values():
        if isinstance(error, tim_oa.BatchAbortedError):
            error = error.cause
        return f"{type(error).__name__}: {error}"
    return None


def plural(count: int, word: str) -> str:
    """``1 item`` / ``2 items``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _anyio_run(job: Callable[[], Awaitable[T]]) -> T:
    import anyio

    return anyio.run(job)


async def walk_pages(
    make_pager: Callable[[Any, int], tim_oa.AsyncPager[T]],
    start: Any,
    page_size: int,
    max_items: int | None,
) -> AsyncGenerator[tuple[list[T], Any], None]:
    """Yield ``(items, next_cursor)`` per page, stopping after exactly ``max_items`` items.

    The last request asks for only as many items as are still wanted, so the cursor after it is
    an exact resume point (``None`` once the listing is complete).
    """
    wanted = max_items
    cursor = start
    size = page_size if wanted is None else min(page_size, wanted)
    while True:
        shrink = False
        async with _closing(make_pager(cursor, size).pages()) as pages:
            async for page in pages:
                items = list(page.items)
                if wanted is not None:
                    items = items[:wanted]
                    wanted -= len(items)
                cursor = page.next_cursor
                yield items, cursor
                if cursor is None or wanted == 0:
                    return
                if wanted is not None and wanted < size:
                    size, shrink = wanted, True
                    break
        if not shrink:
            return


def resume_hint(option: str, cursor: Any) -> str:
    """The stderr line telling how to carry on from ``cursor``."""
    return f"resume with: {option} {shlex.quote(str(cursor))}"


class Listing:
    """Streams a paged listing to stdout; remembers the cursor to resume from if it stops early."""

    def __init__(self, state: State, label: str, output: str, resume_option: str) -> None:
        self.state = state
        self.label = label
        self.writer = RecordWriter(sys.stdout, output)
        self.resume_option = resume_option
        self.pages = 0
        self.cursor: Any = None
        self.started = time.perf_counter()

    async def consume(
        self, pages: AsyncIterator[tuple[list[T], Any]], record: Callable[[T], dict[str, Any]]
    ) -> None:
        """Write every item of ``pages``."""
        async with _closing(pages):
            async for items, cursor in pages:
                self.pages += 1
                self.writer.write_all(record(item) for item in items)
                self.cursor = cursor

    def run(self, start: Any, job: Callable[[], Awaitable[None]]) -> int:
        """Run ``job``; print the summary, and the resume cursor when the listing is not done."""
        self.cursor = start
        try:
            _anyio_run(job)
        except BaseException:
            self.writer.flush()
            if self.pages:  # an error before the first page needs no summary besides itself
                self._summary(stopped="stopped by an error")
            raise
        self.writer.flush()
        self._summary(stopped="stopped at --max-items" if self.cursor is not None else None)
        return OK

    def _summary(self, stopped: str | None) -> None:
        elapsed = format_seconds(time.perf_counter() - self.started)
        items, pages = plural(self.writer.count, "item"), plural(self.pages, "page")
        line = f"{self.label}: {items} in {pages}, {elapsed}"
        if stopped is not None:
            line += f"; {stopped}"
            if self.pages and self.cursor is not None:
                line += f"; {resume_hint(self.resume_option, self.cursor)}"
        note(line)
