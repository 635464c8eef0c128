"""``tim-oa demo``: a realistic job against the embedded emulator, with timings.

Everything goes through the public API, over a real loopback socket when uvicorn is installed (else
in-process): import the users (the emulator knows none, as a new app on Tencent) and check them,
create accounts, bulk-subscribe tens of thousands of users, page through them, edit profiles,
broadcast a message, read the history, recall it, unsubscribe, destroy.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
from rich.console import Console
from rich.table import Table

import tim_oa

from ._context import State
from ._exitcodes import OK
from ._output import format_seconds, note
from ._progress import BatchBar, stderr_is_terminal

OWNER = "demo-owner"


class DemoCheckFailed(tim_oa.TimOAError):
    """The emulator answered something the demo did not expect."""


@dataclass
class Steps:
    """Records each step's description and duration.

    The report is printed once, on stdout, at the end: a table on a terminal, plain lines
    otherwise (a log, a file, a pipe). While the demo runs, each step's line also goes to stderr
    as it ends, but only when someone watches it there: stderr is a terminal and stdout is not
    (the report goes to a file). Otherwise ``tim-oa demo 2>&1 | cat`` would show every step
    twice.
    """

    rows: list[tuple[str, str, float]] = field(default_factory=list)
    live: bool = False

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time the block; what it appends to the yielded list becomes the step's detail."""
        detail: list[str] = []
        started = time.perf_counter()
        yield detail
        elapsed = time.perf_counter() - started
        text = "; ".join(detail)
        self.rows.append((name, text, elapsed))
        if self.live:
            note(self.line(name, text, elapsed))

    @staticmethod
    def line(name: str, text: str, elapsed: float) -> str:
        """One step as a plain line."""
        return f"  {name}: {text} ({format_seconds(elapsed)})"

    def lines(self, title: str) -> str:
        """The steps as plain lines, for an output that is not a terminal."""
        total = sum(r[2] for r in self.rows)
        body = [self.line(name, text, elapsed) for name, text, elapsed in self.rows]
        return "\n".join([title, *body, f"  total: {format_seconds(total)}"])

    def table(self, title: str) -> Table:
        """The steps as a rich table."""
        table = Table(title=title, title_justify="left")
        table.add_column("step")
        table.add_column("what happened")
        table.add_column("time", justify="right")
        for name, text, elapsed in self.rows:
            table.add_row(name, text, format_seconds(elapsed))
        table.add_row("total", "", format_seconds(sum(r[2] for r in self.rows)), style="bold")
        return table


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (the report is then a table)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise DemoCheckFailed(f"demo check failed: {what}")


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


async def run_demo(oa: tim_oa.Session, steps: Steps, users: int, concurrency: int) -> None:
    """The demo's job, on any session bound to an emulator."""
    user_ids = [f"user-{n:06d}" for n in range(1, users + 1)]
    first = user_ids[0]

    with steps.step("import users") as info:
        # The emulator knows no user but the admin, as a new Tencent app: an Official Account's
        # owner and its subscribers must be imported IM accounts first.
        everyone = [OWNER, *user_ids]
        started = time.perf_counter()
        with BatchBar(f"importing {len(everyone):,} users", total=len(everyone)) as bar:
            imported = await oa.import_accounts(everyone, concurrency=concurrency, on_progress=bar)
        seconds = time.perf_counter() - started
        _expect(imported.ok, f"all {len(everyone)} users imported")
        stranger = "never-imported"
        checked = await oa.check_accounts([OWNER, first, user_ids[-1], stranger])
        _expect(
            checked == {OWNER: True, first: True, user_ids[-1]: True, stranger: False},
            "check_accounts sees the imported users, and only them",
        )
        info.append(
            f"owner and {users:,} subscribers imported in {-(-len(everyone) // 100)} calls "
            f"({_rate(len(everyone), seconds)}); check_accounts confirms them, "
            f"and not {stranger!r}"
        )

    with steps.step("create accounts") as info:
        news = await oa.create_account(
            OWNER, "tim_oa Daily", introduction="Demo news", max_subscribers=max(users, 100_000)
        )
        sports = await oa.create_account(OWNER, "tim_oa Sports")
        info.append(f"{news}, {sports}")

    with steps.step("bulk subscribe") as info:
        started = time.perf_counter()
        with BatchBar(f"subscribing {users:,} users", total=users) as bar:
            result = await oa.add_subscribers(
                news, user_ids, concurrency=concurrency, on_progress=bar
            )
        seconds = time.perf_counter() - started
        _expect(result.ok and len(result.succeeded) == users, f"all {users} users subscribed")
        info.append(
            f"{len(result.succeeded):,} users in {-(-users // 100)} calls ({_rate(users, seconds)})"
        )

    with steps.step("subscribe again") as info:
        again = await oa.add_subscribers(news, user_ids[:1000], concurrency=concurrency)
        _expect(len(again.unchanged) == len(again), "re-subscribing changes nothing")
        small = await oa.add_subscribers(sports, user_ids[:10])
        info.append(
            f"{len(again.unchanged):,} already subscribed (unchanged); "
            f"{len(small.succeeded)} users also follow Sports"
        )

    with steps.step("page through subscribers") as info:
        pages = seen = 0
        reported = None
        async for page in oa.subscribers(news).pages():
            pages += 1
            seen += len(page.items)
            reported = page.total
        _expect(seen == users, f"listing returns {users} subscribers, got {seen}")
        info.append(f"{seen:,} subscribers in {pages} pages (SubscriberNum {reported})")

    with steps.step("user's subscriptions") as info:
        followed = await oa.subscribed_accounts(first).collect()
        names = sorted(a.name or a.official_account for a in followed)
        _expect(len(followed) == 2, f"{first} follows 2 accounts")
        info.append(f"{first} follows {', '.join(names)}")

    with steps.step("edit profiles") as info:
        await oa.modify_account(news, introduction="Daily news, now with sports scores")
        await oa.modify_subscriber(news, first, '{"tier": "gold"}')
        (profile,) = await oa.get_accounts([news])
        _expect(profile.ok and profile.subscriber_num == users, "profile shows the subscribers")
        count = profile.subscriber_num or 0
        info.append(f"introduction {profile.introduction!r}; {count:,} subscribers")

    with steps.step("broadcast") as info:
        sent = await oa.send_message(news, "Hello from tim_oa!")
        info.append(f"MsgKey {sent.msg_key}")

    with steps.step("read history") as info:
        history = await oa.messages(news).collect()
        _expect([m.msg_key for m in history] == [sent.msg_key], "history holds the message")
        info.append(f"{len(history)} message, newest {history[0].msg_key}")

    with steps.step("recall") as info:
        recalled = await oa.recall_messages(news, [sent.msg_key], reason="demo")
        _expect(recalled.ok, "the recall succeeded")
        visible = await oa.messages(news).collect()
        marked = await oa.messages(news, with_recalled=True).collect()
        shown = bool(marked) and marked[0].is_recalled
        _expect(not visible and shown, "the message shows as recalled")
        info.append(f"recalled; history now {len(visible)} visible, {len(marked)} recalled")

    with steps.step("bulk unsubscribe") as info:
        leaving = user_ids[: max(1, users // 10)]
        with BatchBar(f"unsubscribing {len(leaving):,} users", total=len(leaving)) as bar:
            removed = await oa.remove_subscribers(
                news, leaving, concurrency=concurrency, on_progress=bar
            )
        _expect(len(removed.succeeded) == len(leaving), "every leaving user was removed")
        (profile,) = await oa.get_accounts([news], fields=["subscriber_num"])
        info.append(f"{len(removed.succeeded):,} removed; {profile.subscriber_num:,} remain")

    with steps.step("destroy accounts") as info:
        await oa.destroy_account(news)
        await oa.destroy_account(sports)
        (gone,) = await oa.get_accounts([news])
        _expect(isinstance(gone.error, tim_oa.AccountNotFoundError), "the account is gone")
        info.append("both destroyed; lookups now fail with AccountNotFoundError")


def _uvicorn_available() -> bool:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


@click.command(short_help="Run a realistic bulk job against the embedded emulator.")
@click.option(
    "--users",
    type=click.IntRange(1, 1_000_000),
    default=20_000,
    show_default=True,
    help="How many users to subscribe.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Requests in flight during bulk steps.",
)
@click.option(
    "--in-process",
    is_flag=True,
    help="Talk to the emulator in-process instead of over a loopback socket.",
)
@click.pass_obj
def demo(state: State, users: int, concurrency: int, in_process: bool) -> None:
    """Run a realistic job against the embedded emulator and show what happened, with timings.

    Needs no credentials: the emulator gets a throwaway key. Like a new app on Tencent, it knows
    no user until the demo imports them (the owner and every subscriber). The client keeps its
    default limits (200 calls/s per command, 100/s for the account import and check, 1
    broadcast/s per account); the emulator's own rate limit is off so that timing jitter cannot
    turn into retries.
    """
    from tim_oa.testing import Emulator, serve

    def job() -> int:
        steps = Steps(live=stderr_is_terminal() and not stdout_is_terminal())
        key = secrets.token_hex(32)
        # known_users=(): no user exists until imported, as on Tencent.
        emulator = Emulator(secret_key=key, rate_limit=None, seed=7, known_users=())
        loopback = not in_process and _uvicorn_available()
        with contextlib.ExitStack() as stack:
            with steps.step("start emulator") as info:
                if loopback:
                    base_url = stack.enter_context(serve(emulator))
                    signer = tim_oa.UserSigSigner(emulator.sdkappid, key)
                    session = tim_oa.Session(
                        sdkappid=emulator.sdkappid,
                        identifier=emulator.admins[0],
                        usersig=signer,
                        base_url=base_url,
                        max_concurrency=concurrency,
                    )
                    info.append(f"serving on {base_url}")
                else:
                    session = emulator.session(max_concurrency=concurrency)
                    info.append("in-process (no loopback server)")

            async def go() -> None:
                async with session as oa:
                    await run_demo(oa, steps, users, concurrency)

            state.run_async(go)
        title = f"tim-oa demo: {users:,} users"
        if stdout_is_terminal():
            Console().print(steps.table(title))
        else:
            click.echo(steps.lines(title))
        return OK

    state.run(job)
