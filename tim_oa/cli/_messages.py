"""``tim-oa messages``: broadcast, read history (resumable), bulk recall."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

import tim_oa

from .._limits import MAX_HISTORY_PAGE_SIZE
from ._bulk import BulkJob, failed_ids_file, run_batch_command
from ._context import State
from ._exitcodes import OK, InputError
from ._listing import Listing, ResumeStyle, skip_option
from ._options import (
    bulk_options,
    gather_ids,
    id_input_options,
    listing_options,
    output_option,
)
from ._output import RecordWriter, format_seconds, model_record, note, stdin_bytes


@click.group(short_help="Broadcast, read history, recall.")
def messages() -> None:
    """An account's messages: broadcast, history, recall."""


def _read_body(text: str | None, body_file: str | None) -> Any:
    """The message body: TEXT, or the JSON in ``body_file`` (an element, a list, or a string)."""
    if (text is None) == (body_file is None):
        raise InputError("give the message as TEXT or with --body-file, exactly one of them")
    if text is not None:
        return text
    assert body_file is not None
    source = "stdin" if body_file == "-" else body_file
    try:
        raw = stdin_bytes().read() if body_file == "-" else Path(body_file).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or type(exc).__name__}") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        line = getattr(exc, "lineno", None)
        where = f"{source} line {line}" if line else source
        raise InputError(f"{where}: not valid JSON ({reason})") from None


@messages.command()
@click.argument("account")
@click.argument("text", required=False)
@click.option(
    "--body-file",
    metavar="PATH|-",
    help='The message as JSON instead of TEXT: an element {"MsgType": ..., "MsgContent": ...}, '
    "a list of elements, or a string.",
)
@click.option("--cloud-custom-data", metavar="TEXT", help="CloudCustomData stored with it.")
@click.option("--online-only", is_flag=True, help="Deliver only to subscribers online now.")
@click.option(
    "--no-last-msg", is_flag=True, help="Leave subscribers' recent-contact lists unchanged."
)
@click.option(
    "--random",
    type=click.IntRange(0, 2**32 - 1),
    help="The message's Random: the same content and Random within 5 minutes is sent once, "
    "which makes re-running a crashed job safe. Default: drawn per run.",
)
@output_option
@click.pass_obj
def send(
    state: State,
    account: str,
    text: str | None,
    body_file: str | None,
    cloud_custom_data: str | None,
    online_only: bool,
    no_last_msg: bool,
    random: int | None,
    output: str,
) -> None:
    """Broadcast TEXT (or --body-file) to every subscriber of ACCOUNT; prints its MsgKey."""

    def job() -> int:
        body = _read_body(text, body_file)
        started = time.perf_counter()

        async def go() -> tim_oa.SentMessage:
            async with state.open_session() as oa:
                return await oa.send_message(
                    account,
                    body,
                    random=random,
                    cloud_custom_data=cloud_custom_data,
                    online_only=online_only,
                    no_last_msg=no_last_msg,
                )

        sent = state.run_async(go)
        writer = RecordWriter(sys.stdout, output)
        writer.write({"official_account": account, **model_record(sent), "status": "sent"})
        writer.flush()
        note(
            f"messages send: sent {sent.msg_key} in {format_seconds(time.perf_counter() - started)}"
        )
        return OK

    state.run(job)


def _message_record(message: tim_oa.Message) -> dict[str, Any]:
    return {**model_record(message), "recalled": message.is_recalled}


@messages.command()
@click.argument("account")
@click.option(
    "--last-msg-key",
    metavar="KEY",
    help="Resume with the messages older than KEY (printed on stderr when a run stops early).",
)
@skip_option
@click.option("--with-recalled", is_flag=True, help="Include recalled messages.")
@listing_options(MAX_HISTORY_PAGE_SIZE, MAX_HISTORY_PAGE_SIZE)
@output_option
@click.pass_obj
def history(
    state: State,
    account: str,
    last_msg_key: str | None,
    skip: int,
    with_recalled: bool,
    page_size: int,
    max_items: int | None,
    output: str,
) -> None:
    """List ACCOUNT's messages, newest first."""
    style = ResumeStyle("--last-msg-key", start=None)
    listing = Listing(state, "messages history", output, style, last_msg_key, skip)

    async def go() -> None:
        async with state.open_session() as oa:

            def pager(at: Any, size: int) -> tim_oa.AsyncPager[tim_oa.Message]:
                return oa.messages(
                    account, page_size=size, with_recalled=with_recalled, last_msg_key=at
                )

            await listing.consume(pager, page_size, max_items, _message_record)

    state.run(lambda: listing.run(go))


@messages.command()
@click.argument("account")
@id_input_options("msg key")
@click.option("--reason", metavar="TEXT", help="Why (at most 100 bytes).")
@bulk_options
@output_option
@click.pass_obj
def recall(
    state: State,
    account: str,
    source: str | None,
    id_values: tuple[str, ...],
    input_format: str,
    column: str | None,
    header: bool | None,
    reason: str | None,
    concurrency: int,
    failed_ids: Path | None,
    output: str,
) -> None:
    """Recall the messages whose MsgKeys are listed in FILE (or - for stdin, or --id).

    Prints one record per distinct key as its chunk finishes, succeeded or failed (with the
    API's RetCode). Any failure makes the exit code 1; --failed-ids keeps those keys for a re-run.
    Ctrl-C, SIGTERM or SIGHUP stop the job cleanly, as for subscribers add.
    """

    async def call(oa: tim_oa.Session, keys: list[str], job: BulkJob) -> tim_oa.BatchResult:
        return await oa.recall_messages(
            account, keys, reason=reason, concurrency=concurrency, on_progress=job
        )

    def job() -> int:
        with failed_ids_file(failed_ids) as failed_file:
            ids = gather_ids(source, id_values, input_format, column, header, "msg key")
            return run_batch_command(
                state,
                "messages recall",
                ids,
                call,
                noun="msg key",
                output=output,
                failed_file=failed_file,
                concurrency=concurrency,
                with_unchanged=False,
            )

    state.run(job)
