"""``python -m tim_oa.testing``: serve an emulator from the command line."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from .. import _limits as L
from ._emulator import DEFAULT_ADMIN, DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY, Emulator
from ._server import serve_forever

SECRET_KEY_ENV = "TIM_OA_SECRET_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tim_oa.testing",
        description="Serve the tim_oa Official Account emulator until interrupted (Ctrl-C).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback interface (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port, 0 for any (default %(default)s)"
    )
    parser.add_argument(
        "--sdkappid", type=int, default=DEFAULT_SDKAPPID, help="app id (default %(default)s)"
    )
    parser.add_argument(
        "--secret-key",
        default=None,
        help=f"UserSig key (default: ${SECRET_KEY_ENV}, else Tencent's public sample key)",
    )
    parser.add_argument(
        "--admin",
        action="append",
        default=None,
        help=f"an App admin identifier; repeatable (default {DEFAULT_ADMIN})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and faults (default 0)")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="disable the 200 calls/s limit"
    )
    parser.add_argument(
        "--no-send-limits",
        action="store_true",
        help="disable the per-account send pacing (1/s and 2 broadcasts per hour)",
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (unsafe)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until Ctrl-C, and return the exit status.

    The secret key is read from ``--secret-key`` or the ``TIM_OA_SECRET_KEY`` environment variable
    and is never printed.
    """
    args = _parser().parse_args(argv)
    secret_key = args.secret_key or os.environ.get(SECRET_KEY_ENV) or DEFAULT_SECRET_KEY
    emulator = Emulator(
        args.sdkappid,
        secret_key,
        tuple(args.admin or (DEFAULT_ADMIN,)),
        seed=args.seed,
        rate_limit=None if args.no_rate_limit else L.CALLS_PER_SECOND,
        send_per_second=None if args.no_send_limits else L.SENDS_PER_SECOND_PER_ACCOUNT,
        broadcasts_per_hour=None if args.no_send_limits else L.BROADCASTS_PER_HOUR_PER_ACCOUNT,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve_forever(emulator, args.host, args.port, allow_remote=args.allow_remote)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    return 0
