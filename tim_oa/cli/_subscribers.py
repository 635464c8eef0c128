"""``tim-oa subscribers``: bulk add and remove, list (resumable), set one's custom string."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

import tim_oa

from ._bulk import BulkJob, failed_ids_file, run_batch_command
from ._context import State
from ._exitcodes import OK
from ._listing import Listing, ResumeStyle, skip_option
from ._options import (
    bulk_options,
    gather_ids,
    id_input_options,
    listing_options,
    output_option,
)
from ._output import RecordWriter, format_seconds, model_record, note


@click.group(short_help="Bulk add/remove, list and annotate subscribers.")
def subscribers() -> None:
    """An account's subscribers: bulk add/remove, list, per-subscriber custom data."""


BatchMethod = Callable[..., Awaitable[tim_oa.BatchResult]]


def _batch_command(
    name: str, summary: str, method: Callable[[tim_oa.Session], BatchMethod]
) -> click.Command:
    @click.argument("account")
    @id_input_options("user id")
    @bulk_options
    @output_option
    @click.pass_obj
    def command(
        state: State,
        account: str,
        source: str | None,
        id_values: tuple[str, ...],
        input_format: str,
        column: str | None,
        header: bool | None,
        concurrency: int,
        failed_ids: Path | None,
        output: str,
    ) -> None:
        async def call(oa: tim_oa.Session, user_ids: list[str], job: BulkJob) -> tim_oa.BatchResult:
            return await method(oa)(account, user_ids, concurrency=concurrency, on_progress=job)

        def job() -> int:
            with failed_ids_file(failed_ids) as failed_file:
                ids = gather_ids(source, id_values, input_format, column, header, "user id")
                return run_batch_command(
                    state,
                    f"subscribers {name}",
                    ids,
                    call,
                    noun="id",
                    output=output,
                    failed_file=failed_file,
                    concurrency=concurrency,
                )

        state.run(job)

    command.__doc__ = (
        f"{summary}\n\n"
        "Prints one record per distinct id as its chunk finishes: succeeded, unchanged "
        "(nothing to do) or failed. Any failure makes the exit code 1; --failed-ids keeps those "
        "ids for a re-run. Ctrl-C, SIGTERM or SIGHUP stop the job cleanly: the ids not confirmed "
        "go to --failed-ids too, and the exit code is 128 + the signal's number."
    )
    return click.command(name)(command)


subscribers.add_command(
    _batch_command(
        "add",
        "Subscribe the users listed in FILE (or - for stdin, or --id) to ACCOUNT.",
        lambda oa: oa.add_subscribers,
    )
)
subscribers.add_command(
    _batch_command(
        "remove",
        "Unsubscribe the users listed in FILE (or - for stdin, or --id) from ACCOUNT.",
        lambda oa: oa.remove_subscribers,
    )
)


@subscribers.command(name="list")
@click.argument("account")
@click.option(
    "--cursor",
    default="",
    metavar="CURSOR",
    help="Resume from this cursor (printed on stderr when a run stops early).",
)
@skip_option
@listing_options(200, 200)
@output_option
@click.pass_obj
def list_(
    state: State,
    account: str,
    cursor: str,
    skip: int,
    page_size: int,
    max_items: int | None,
    output: str,
) -> None:
    """List ACCOUNT's subscribers, oldest subscription first."""
    style = ResumeStyle("--cursor", start="")
    listing = Listing(state, "subscribers list", output, style, cursor, skip)

    async def go() -> None:
        async with state.open_session() as oa:

            def pager(at: Any, size: int) -> tim_oa.AsyncPager[tim_oa.Subscriber]:
                return oa.subscribers(account, page_size=size, cursor=at)

            await listing.consume(pager, page_size, max_items, model_record)

    state.run(lambda: listing.run(go))


@subscribers.command()
@click.argument("account")
@click.argument("user")
@click.argument("custom_string")
@output_option
@click.pass_obj
def modify(state: State, account: str, user: str, custom_string: str, output: str) -> None:
    """Set USER's CUSTOM_STRING on their subscription to ACCOUNT (at most 3000 bytes)."""

    def job() -> int:
        started = time.perf_counter()

        async def go() -> None:
            async with state.open_session() as oa:
                await oa.modify_subscriber(account, user, custom_string)

        state.run_async(go)
        writer = RecordWriter(sys.stdout, output)
        writer.write({"official_account": account, "user_id": user, "status": "modified"})
        writer.flush()
        note(
            f"subscribers modify: set the custom string of {user} in "
            f"{format_seconds(time.perf_counter() - started)}"
        )
        return OK

    state.run(job)
