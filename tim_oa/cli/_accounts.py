"""``tim-oa accounts``: create, destroy, modify, get profiles, list a user's subscriptions."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

import tim_oa

from ._bulk import failed_ids_file
from ._context import State, located_at_input
from ._exitcodes import FAILED, OK, USAGE
from ._listing import Listing, ResumeStyle
from ._options import (
    gather_ids,
    id_input_options,
    listing_options,
    output_option,
)
from ._output import RecordWriter, format_seconds, model_record, note, plural

PROFILE_OPTIONS = (
    ("--introduction", "introduction", "Introduction text (at most 400 bytes)."),
    ("--face-url", "face_url", "Avatar URL (at most 500 bytes)."),
    ("--organization", "organization", "Organization (at most 500 bytes)."),
    ("--custom-string", "custom_string", "Custom data (at most 3000 bytes)."),
)


def _profile_options(func: Any) -> Any:
    func = click.option(
        "--max-subscribers", type=int, help="Subscriber cap (MaxSubscriberNum; default 100000)."
    )(func)
    for flag, dest, text in reversed(PROFILE_OPTIONS):
        func = click.option(flag, dest, metavar="TEXT", help=text)(func)
    return func


def _emit(output: str, record: dict[str, Any]) -> None:
    writer = RecordWriter(sys.stdout, output)
    writer.write(record)
    writer.flush()


@click.group(short_help="Create, destroy, modify and look up accounts.")
def accounts() -> None:
    """Official Accounts: create, destroy, modify, look up, and list a user's subscriptions."""


@accounts.command()
@click.argument("owner")
@click.argument("name")
@click.option(
    "--account-id",
    metavar="ID",
    help="A custom id (starting @TOA#_); by default the server assigns one.",
)
@_profile_options
@output_option
@click.pass_obj
def create(
    state: State, /, owner: str, name: str, account_id: str | None, output: str, **profile: Any
) -> None:
    """Create an account owned by user OWNER, named NAME; prints its id.

    Without --account-id a failed attempt is not retried blindly (a repeat could create a second
    account).
    """

    def job() -> int:
        started = time.perf_counter()

        async def go() -> str:
            async with state.open_session() as oa:
                return await oa.create_account(owner, name, account_id=account_id, **profile)

        created = state.run_async(go)
        _emit(output, {"official_account": created, "status": "created"})
        elapsed = format_seconds(time.perf_counter() - started)
        note(f"accounts create: created {created} in {elapsed}")
        return OK

    state.run(job)


@accounts.command()
@click.argument("account")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output_option
@click.pass_obj
def destroy(state: State, account: str, yes: bool, output: str) -> None:
    """Destroy ACCOUNT. Irreversible: its id cannot be used again.

    Asks for confirmation on the terminal; without a terminal (a script, a pipe) it refuses
    unless --yes is given.
    """
    if not yes:
        if not stdin_is_terminal():
            state.fail(
                f"refusing to destroy {account} without confirmation: stdin is not a terminal; "
                "add --yes to confirm",
                USAGE,
            )
        click.confirm(f"Destroy {account}? This cannot be undone", abort=True, err=True)

    def job() -> int:
        started = time.perf_counter()

        async def go() -> None:
            async with state.open_session() as oa:
                await oa.destroy_account(account)

        state.run_async(go)
        _emit(output, {"official_account": account, "status": "destroyed"})
        note(
            f"accounts destroy: destroyed {account} in "
            f"{format_seconds(time.perf_counter() - started)}"
        )
        return OK

    state.run(job)


@accounts.command()
@click.argument("account")
@click.option("--name", metavar="TEXT", help="New name (at most 150 bytes).")
@_profile_options
@output_option
@click.pass_obj
def modify(state: State, /, account: str, output: str, **fields: Any) -> None:
    """Change ACCOUNT's profile; only the options given are sent."""
    changes = {k: v for k, v in fields.items() if v is not None}

    def job() -> int:
        started = time.perf_counter()

        async def go() -> None:
            async with state.open_session() as oa:
                await oa.modify_account(account, **changes)

        state.run_async(go)
        record = {"official_account": account, "status": "modified", "fields": sorted(changes)}
        _emit(output, record)
        note(
            f"accounts modify: changed {', '.join(sorted(changes))} of {account} in "
            f"{format_seconds(time.perf_counter() - started)}"
        )
        return OK

    state.run(job)


@accounts.command()
@id_input_options("account id")
@click.option(
    "--fields",
    metavar="A,B",
    help="Profile fields to fetch, comma-separated (e.g. name,subscriber_num); default all.",
)
@click.option(
    "--failed-ids",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write the ids that were not found here, one per line.",
)
@output_option
@click.pass_obj
def get(
    state: State,
    source: str | None,
    id_values: tuple[str, ...],
    input_format: str,
    column: str | None,
    header: bool | None,
    fields: str | None,
    failed_ids: Path | None,
    output: str,
) -> None:
    """Print the profiles of the accounts listed in FILE (or - for stdin, or --id).

    One account can also be named directly: `tim-oa accounts get '@TOA#_news'` reads an argument
    that starts with @TOA# and is not an existing file as that account id. One record per input
    id, in input order; an account that does not exist gets its error code and makes the exit
    code 1.
    """

    def job() -> int:
        nonlocal source, id_values
        if source is not None and is_account_id_not_file(source):
            id_values = (*id_values, source)
            source = None
        with failed_ids_file(failed_ids) as failed_file:
            ids = gather_ids(source, id_values, input_format, column, header, "account id")
            wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
            started = time.perf_counter()

            async def go() -> list[tim_oa.OfficialAccount]:
                async with state.open_session() as oa:
                    with located_at_input(ids):
                        return await oa.get_accounts(ids.ids, fields=wanted)

            found = state.run_async(go)
            writer = RecordWriter(sys.stdout, output)
            missing: dict[str, None] = {}
            for account in found:
                record = model_record(account)
                record["status"] = "found" if account.ok else "failed"
                writer.write(record)
                if not account.ok:
                    missing[account.official_account] = None
            writer.flush()
            if failed_file is not None:
                failed_file.write(missing)
                failed_file.commit()
            summary = (
                f"accounts get: {plural(len(found), 'id')}: {len(found) - len(missing):,} found, "
                f"{len(missing):,} failed in {format_seconds(time.perf_counter() - started)}"
            )
            if failed_file is not None:
                summary += f"; failed ids written to {failed_file.path}"
            note(summary)
            return FAILED if missing else OK

    state.run(job)


@accounts.command()
@click.argument("user")
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Resume from this offset (printed on stderr when a run stops early).",
)
@listing_options(200, 200)
@output_option
@click.pass_obj
def subscribed(
    state: State, user: str, offset: int, page_size: int, max_items: int | None, output: str
) -> None:
    """List the accounts USER subscribes to, with the subscription's own data."""
    style = ResumeStyle("--offset", start=0, offset=True)
    listing = Listing(state, "accounts subscribed", output, style, offset)

    async def go() -> None:
        async with state.open_session() as oa:

            def pager(cursor: Any, size: int) -> tim_oa.AsyncPager[tim_oa.SubscribedAccount]:
                return oa.subscribed_accounts(user, page_size=size, offset=cursor)

            await listing.consume(pager, page_size, max_items, model_record)

    state.run(lambda: listing.run(go))


def is_account_id_not_file(source: str) -> bool:
    """Whether a FILE argument is an account id rather than a file (``@TOA#...``, no such file)."""
    return source.startswith("@TOA#") and not Path(source).exists()


def stdin_is_terminal() -> bool:
    """True when stdin is an interactive terminal (a confirmation prompt can be answered)."""
    isatty = getattr(sys.stdin, "isatty", None)
    return bool(isatty and isatty())
