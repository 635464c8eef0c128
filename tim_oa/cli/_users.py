"""``tim-oa users``: the app's own IM accounts (import, import one, check, delete).

Official Accounts deal only with imported users: an owner and every subscriber must exist as an
account of the app's IM service first. The bulk commands read ids and report outcomes exactly as
``subscribers add`` does (``_bulk``); ``check`` prints one record per id and can write the ids
that are not imported to a file, ready for ``users import``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

import tim_oa

from ._accounts import stdin_is_terminal
from ._bulk import BulkJob, failed_ids_file, run_batch_command
from ._context import State, located_at_input
from ._exitcodes import FAILED, OK, USAGE
from ._options import DEFAULT_CONCURRENCY, bulk_options, gather_ids, id_input_options, output_option
from ._output import RecordWriter, format_seconds, note, plural

BulkMethod = Callable[..., Awaitable[tim_oa.BatchResult]]

_BULK_HELP = (
    "Prints one record per distinct id as its chunk finishes: succeeded, unchanged or failed. "
    "Any failure makes the exit code 1; --failed-ids keeps those ids for a re-run. Ctrl-C, "
    "SIGTERM or SIGHUP stop the job cleanly: the ids not confirmed go to --failed-ids too, and "
    "the exit code is 128 + the signal's number."
)


@click.group(short_help="Import, check and delete the app's users (IM accounts).")
def users() -> None:
    """The app's users as IM accounts (im_open_login_svc).

    An Official Account's owner and its subscribers must be imported first.
    """


def _run_bulk(
    state: State,
    name: str,
    method: Callable[[tim_oa.Session], BulkMethod],
    ids_options: tuple[str | None, tuple[str, ...], str, str | None, bool | None],
    concurrency: int,
    failed_ids: Path | None,
    output: str,
    *,
    with_unchanged: bool,
) -> int:
    async def call(oa: tim_oa.Session, user_ids: list[str], job: BulkJob) -> tim_oa.BatchResult:
        return await method(oa)(user_ids, concurrency=concurrency, on_progress=job)

    with failed_ids_file(failed_ids) as failed_file:
        ids = gather_ids(*ids_options, "user id")
        return run_batch_command(
            state,
            f"users {name}",
            ids,
            call,
            noun="id",
            output=output,
            failed_file=failed_file,
            concurrency=concurrency,
            with_unchanged=with_unchanged,
        )


@users.command(name="import", epilog=_BULK_HELP)
@id_input_options("user id")
@bulk_options
@output_option
@click.pass_obj
def import_(
    state: State,
    source: str | None,
    id_values: tuple[str, ...],
    input_format: str,
    column: str | None,
    header: bool | None,
    concurrency: int,
    failed_ids: Path | None,
    output: str,
) -> None:
    """Import the users listed in FILE (or - for stdin, or --id) as IM accounts.

    100 ids per request (multiaccount_import). Importing a user who is already imported does no
    harm, so a re-run with --failed-ids finishes a job.
    """
    ids_options = (source, id_values, input_format, column, header)
    state.run(
        lambda: _run_bulk(
            state,
            "import",
            lambda oa: oa.import_accounts,
            ids_options,
            concurrency,
            failed_ids,
            output,
            with_unchanged=False,
        )
    )


@users.command(name="delete", epilog=_BULK_HELP)
@id_input_options("user id")
@bulk_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output_option
@click.pass_obj
def delete(
    state: State,
    source: str | None,
    id_values: tuple[str, ...],
    input_format: str,
    column: str | None,
    header: bool | None,
    concurrency: int,
    failed_ids: Path | None,
    yes: bool,
    output: str,
) -> None:
    """Delete the IM accounts of the users listed in FILE (or - for stdin, or --id).

    Irreversible: Tencent deletes each user's profile, contacts and conversations too, and on
    most plans a deleted id cannot be imported again for three months. A user who was not
    imported is unchanged. Asks for confirmation on a terminal; without one (or with ids on
    stdin) it refuses unless --yes is given.
    """
    if not yes:
        if source == "-" or not stdin_is_terminal():
            state.fail(
                "refusing to delete user accounts without confirmation: stdin is not a "
                "terminal; add --yes to confirm",
                USAGE,
            )
        click.confirm("Delete these user accounts? This cannot be undone", abort=True, err=True)
    ids_options = (source, id_values, input_format, column, header)
    state.run(
        lambda: _run_bulk(
            state,
            "delete",
            lambda oa: oa.delete_accounts,
            ids_options,
            concurrency,
            failed_ids,
            output,
            with_unchanged=True,
        )
    )


@users.command()
@id_input_options("user id")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=100),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--failed-ids",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write the ids that are not imported here, one per line (input for users import).",
)
@output_option
@click.pass_obj
def check(
    state: State,
    source: str | None,
    id_values: tuple[str, ...],
    input_format: str,
    column: str | None,
    header: bool | None,
    concurrency: int,
    failed_ids: Path | None,
    output: str,
) -> None:
    """Tell which users listed in FILE (or - for stdin, or --id) are imported IM accounts.

    One record per distinct id, in input order: {"id", "imported"}. Any user not imported makes
    the exit code 1.
    """

    def job() -> int:
        with failed_ids_file(failed_ids) as failed_file:
            ids = gather_ids(source, id_values, input_format, column, header, "user id")
            started = time.perf_counter()

            async def go() -> dict[str, bool]:
                async with state.open_session(max_concurrency=concurrency) as oa:
                    with located_at_input(ids):
                        return await oa.check_accounts(ids.ids, concurrency=concurrency)

            found = state.run_async(go)
            writer = RecordWriter(sys.stdout, output, columns=("id", "imported"))
            missing = [user for user, imported in found.items() if not imported]
            for user, imported in found.items():
                writer.write({"id": user, "imported": imported})
            writer.flush()
            if failed_file is not None:
                failed_file.write(missing)
                failed_file.commit()
            summary = (
                f"users check: {plural(len(found), 'id')}: {len(found) - len(missing):,} "
                f"imported, {len(missing):,} not imported in "
                f"{format_seconds(time.perf_counter() - started)}"
            )
            if failed_file is not None:
                summary += f"; the ids not imported written to {failed_file.path}"
            note(summary)
            return FAILED if missing else OK

    state.run(job)


@users.command(name="import-one")
@click.argument("user")
@click.option("--nick", metavar="TEXT", help="Nickname (at most 500 bytes).")
@click.option("--face-url", metavar="URL", help="Profile picture URL (at most 500 bytes).")
@output_option
@click.pass_obj
def import_one(
    state: State, user: str, nick: str | None, face_url: str | None, output: str
) -> None:
    """Import USER as an IM account, with a nickname and a picture (account_import).

    Importing an imported user again does no harm (Tencent updates the fields given).
    """

    def job() -> int:
        started = time.perf_counter()

        async def go() -> None:
            async with state.open_session() as oa:
                await oa.import_account(user, nick=nick, face_url=face_url)

        state.run_async(go)
        writer = RecordWriter(sys.stdout, output)
        writer.write({"id": user, "status": "imported"})
        writer.flush()
        note(
            f"users import-one: imported {user} in {format_seconds(time.perf_counter() - started)}"
        )
        return OK

    state.run(job)
