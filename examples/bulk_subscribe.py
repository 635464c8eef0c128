"""Subscribe every user of a CSV file to an Official Account, in a job that can be resumed.

    python examples/bulk_subscribe.py '@TOA#_news' users.csv --column user_id

As each chunk of 100 ids finishes, the ids it settled (subscribed now, or subscribed already) are
appended to a checkpoint file, ``users.csv.done`` unless ``--checkpoint`` names another. Run the
same command again after a crash, a Ctrl-C or a run with failures: the ids in the checkpoint are
skipped and only the rest is sent. Failed ids are not settled, so the next run sends them again
(adding a subscriber twice is harmless: it answers "already subscribed"). Delete the checkpoint
to start over.

Exit status: 0 when every id is settled, 1 when some failed (run again to retry them), 2 for bad
input or settings. The session comes from the environment (see ``oa_env.py``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO

import anyio

import tim_oa

from oa_env import ConfigError, session_from_env


def read_ids(path: Path, column: str) -> list[str]:
    """The ids of one column of a CSV file with a header row, in file order."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = csv.DictReader(file)
        if rows.fieldnames is None or column not in rows.fieldnames:
            raise ValueError(f"{path} has no column {column!r} (columns: {rows.fieldnames})")
        return [row[column].strip() for row in rows if (row[column] or "").strip()]


# --8<-- [start:checkpoint]
class Checkpoint:
    """The ids a job has settled: appended as chunks finish, read back by the next run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    def load(self) -> set[str]:
        """The ids settled by earlier runs."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return set()
        # Every complete line ends with a newline; a crash in mid-write can leave a last line
        # without one, which is not trusted (its id is simply sent again).
        return set(text.split("\n")[:-1])

    def __enter__(self) -> Checkpoint:
        self._file = self.path.open("a", encoding="utf-8")
        if self._file.tell() and not self.path.read_bytes().endswith(b"\n"):
            self._file.write("\n")  # end a torn line, so the next id starts a line of its own
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()

    def record(self, progress: tim_oa.BatchProgress) -> None:
        """``on_progress``: write down the ids of the chunk that just finished, if settled."""
        assert self._file is not None, "use the checkpoint in a with block"
        settled = [id_ for id_, outcome in progress.outcomes.items() if outcome.ok]
        if settled:
            self._file.write("".join(f"{id_}\n" for id_ in settled))
            self._file.flush()  # each chunk is on disk before the next is reported


async def subscribe_all(
    oa: tim_oa.Session,
    account_id: str,
    ids: list[str],
    checkpoint: Checkpoint,
    *,
    concurrency: int | None = None,
) -> tim_oa.BatchResult:
    """Subscribe the ids the checkpoint does not hold yet, recording each settled chunk."""
    settled = checkpoint.load()
    todo = [id_ for id_ in ids if id_ not in settled]
    print(f"{len(ids) - len(todo)} ids settled earlier, {len(todo)} to send", file=sys.stderr)
    with checkpoint:
        return await oa.add_subscribers(
            account_id, todo, concurrency=concurrency, on_progress=checkpoint.record
        )


# --8<-- [end:checkpoint]


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(description="Subscribe the users of a CSV file, resumably.")
    parser.add_argument("account_id", help="the Official Account, e.g. @TOA#_news")
    parser.add_argument("csv", type=Path, help="a CSV file with a header row")
    parser.add_argument("--column", default="user_id", help="the column of ids (user_id)")
    parser.add_argument("--checkpoint", type=Path, help="settled ids (default: CSV.done)")
    parser.add_argument("--concurrency", type=int, help="chunks in flight (default: adaptive)")
    args = parser.parse_args(argv)
    checkpoint = Checkpoint(args.checkpoint or args.csv.with_name(args.csv.name + ".done"))
    try:
        ids = read_ids(args.csv, args.column)
        oa = session_from_env()
        report = anyio.run(run, oa, args.account_id, ids, checkpoint, args.concurrency)
    except (OSError, ValueError, ConfigError) as exc:
        # ValueError includes tim_oa.ValidationError: a bad id is reported before any is sent.
        print(f"bulk_subscribe: {exc}", file=sys.stderr)
        return 2
    except tim_oa.ProgressCallbackError as exc:  # the checkpoint could not be written
        print(f"bulk_subscribe: checkpoint {checkpoint.path}: {exc.__cause__}", file=sys.stderr)
        return 1
    for id_, outcome in report.outcomes.items():
        if not outcome.ok:
            reason = type(outcome.error).__name__ if outcome.error else f"Result {outcome.code}"
            print(f"failed: {id_}: {reason}", file=sys.stderr)
    print(
        f"{len(report.succeeded)} subscribed, {len(report.unchanged)} already subscribed, "
        f"{len(report.failed)} failed" + (" (run again to retry them)" if report.failed else ""),
        file=sys.stderr,
    )
    return 1 if report.failed else 0


async def run(
    oa: tim_oa.Session,
    account_id: str,
    ids: list[str],
    checkpoint: Checkpoint,
    concurrency: int | None,
) -> tim_oa.BatchResult:
    """Open the session, run the job, close the session."""
    async with oa:
        return await subscribe_all(oa, account_id, ids, checkpoint, concurrency=concurrency)


if __name__ == "__main__":
    sys.exit(main())
