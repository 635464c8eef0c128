"""Serving the emulator from a shell: ``python -m tim_oa.testing`` and ``tim-oa emulator serve``.

Both are the one click command built here, with the same options and help. click comes with the
``emulator`` and ``cli`` extras; it is imported only when the command is built, so importing
``tim_oa.testing`` does not need it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import _limits as L
from ._emulator import DEFAULT_ADMIN, DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY, Emulator

SECRET_KEY_ENV = "TIM_OA_SECRET_KEY"
WEBHOOK_TOKEN_ENV = "TIM_OA_WEBHOOK_TOKEN"
PROG_NAME = "python -m tim_oa.testing"
INSTALL_HINT = 'serving the emulator needs extra packages: pip install "tim-oa[emulator]"'


def serve_command() -> Any:
    """The click command that serves an emulator (a ``click.Command``; needs click)."""
    import click

    from .._options import is_loopback_host as is_loopback
    from ._server import serve_forever

    @click.command(
        name="serve",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        epilog=f"The secret key is best given as {SECRET_KEY_ENV} rather than --secret-key, "
        "which other users can see in the process list. Point clients at the printed URL (for "
        "the tim-oa command: TIM_OA_BASE_URL). Stops on Ctrl-C or SIGTERM.",
    )
    @click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Interface to listen on; loopback only unless --allow-remote.",
    )
    @click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=8080,
        show_default=True,
        help="TCP port; 0 picks a free one.",
    )
    @click.option(
        "--sdkappid",
        type=click.IntRange(min=1),
        default=DEFAULT_SDKAPPID,
        show_default=True,
        help="The app id the emulator answers for.",
    )
    @click.option(
        "--secret-key",
        envvar=SECRET_KEY_ENV,
        show_envvar=True,
        metavar="KEY",
        help="The key UserSigs are checked with (default: Tencent's public sample key). "
        "Never printed.",
    )
    @click.option(
        "--admin",
        "admins",
        multiple=True,
        metavar="IDENTIFIER",
        help=f"An App admin identifier; repeatable (default {DEFAULT_ADMIN}).",
    )
    @click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed for generated ids and faults."
    )
    @click.option(
        "--no-rate-limit",
        is_flag=True,
        help=f"Turn off the limit of {L.CALLS_PER_SECOND:g} calls/s per command.",
    )
    @click.option(
        "--no-send-limits",
        is_flag=True,
        help="Turn off the per-account send pacing (1/s and 2 broadcasts per hour).",
    )
    @click.option(
        "--webhook-url",
        metavar="URL",
        help="Send the 11 Official Account callbacks to this http(s) URL and honour the answers "
        "of the three before callbacks.",
    )
    @click.option(
        "--webhook-token",
        envvar=WEBHOOK_TOKEN_ENV,
        show_envvar=True,
        metavar="TOKEN",
        help="Sign callbacks with this token (Sign and RequestTime in the query). Never printed.",
    )
    @click.option(
        "--known-users",
        metavar="FILE|ID,...",
        help="Only these users exist (plus the admins and whom the import commands add): a "
        "file of user ids (one per line, or .csv/.jsonl) or a comma-separated list; '' for "
        "nobody. Creating an account for an owner not imported then fails with 70107. Default: "
        "every user exists.",
    )
    @click.option(
        "--allow-remote",
        is_flag=True,
        help="Allow a --host that is not loopback (unsafe: anyone holding the key can call it).",
    )
    def serve(
        host: str,
        port: int,
        sdkappid: int,
        secret_key: str | None,
        admins: tuple[str, ...],
        seed: int,
        no_rate_limit: bool,
        no_send_limits: bool,
        webhook_url: str | None,
        webhook_token: str | None,
        known_users: str | None,
        allow_remote: bool,
    ) -> None:
        """Serve the tim_oa Official Account emulator until Ctrl-C (or SIGTERM)."""
        if not allow_remote and not is_loopback(host):
            raise click.UsageError(
                f"refusing to serve on {host}, which is not a loopback interface; add "
                "--allow-remote to allow it (unsafe: anyone holding the key can call it)"
            )
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise click.BadParameter("must be an http(s) URL", param_hint="--webhook-url")
        if webhook_token is not None and webhook_url is None:
            raise click.UsageError("--webhook-token needs --webhook-url")
        emulator = Emulator(
            sdkappid,
            secret_key or DEFAULT_SECRET_KEY,
            admins or (DEFAULT_ADMIN,),
            seed=seed,
            rate_limit=None if no_rate_limit else L.CALLS_PER_SECOND,
            send_per_second=None if no_send_limits else L.SENDS_PER_SECOND_PER_ACCOUNT,
            broadcasts_per_hour=None if no_send_limits else L.BROADCASTS_PER_HOUR_PER_ACCOUNT,
            webhook_url=webhook_url,
            webhook_token=webhook_token or None,
            known_users=None if known_users is None else read_known_users(known_users),
        )
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        try:
            serve_forever(emulator, host, port, allow_remote=allow_remote)
        except (ValueError, RuntimeError, OSError) as exc:
            click.echo(f"error: {exc}", err=True)
            raise click.exceptions.Exit(2) from None

    return serve


def read_known_users(value: str) -> frozenset[str]:
    """The users of ``--known-users``: an existing file's ids, else a comma-separated list.

    Raises ``click.BadParameter`` for a file that cannot be read or holds a malformed line.
    """
    import click

    from ..cli._exitcodes import InputError
    from ..cli._ids import read_ids

    if value and Path(value).is_file():
        try:
            return frozenset(read_ids(value, sys.stdin.buffer).ids)
        except InputError as exc:
            raise click.BadParameter(str(exc), param_hint="--known-users") from None
    return frozenset(user.strip() for user in value.split(",") if user.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Serve an emulator as ``python -m tim_oa.testing`` does; return the exit status.

    ``argv`` defaults to the process's arguments. Options as in ``--help``; the secret key is
    read from ``--secret-key`` or ``TIM_OA_SECRET_KEY`` and is never printed.
    """
    try:
        import click
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    command = serve_command()
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        command.main(args=args, prog_name=PROG_NAME, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    return 0
