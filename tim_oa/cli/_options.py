"""Options shared by several commands, and reading the ids of a bulk command."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from ._exitcodes import InputError
from ._ids import FORMATS, IdList, from_options, read_ids
from ._output import OUTPUT_FORMATS, stdin_bytes

F = TypeVar("F", bound=Callable[..., Any])

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


def article(noun: str) -> str:
    """``a user id``, ``an account id``, ``a msg key``: the noun with its indefinite article."""
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"


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
                help=f"{article(noun).capitalize()} given directly; repeatable, instead of FILE.",
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
        help="Write the ids that failed here, one per line, to re-run just those; after a stop "
        "(Ctrl-C, SIGTERM, SIGHUP) also every id not confirmed. Written beside PATH and renamed "
        "at the end: a run that fails before sending leaves PATH as it was.",
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
    return read_ids(source, stdin_bytes(), fmt=input_format, column=column, header=header)
