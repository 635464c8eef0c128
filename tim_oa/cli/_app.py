"""The root ``tim-oa`` command: global options, and the command groups attached to it."""

from __future__ import annotations

from pathlib import Path

import click

import tim_oa

from ._accounts import accounts
from ._config import ENV_HELP
from ._context import State
from ._demo import demo
from ._doctor import doctor
from ._emulator import emulator
from ._exitcodes import EPILOG
from ._messages import messages
from ._subscribers import subscribers
from ._users import users
from ._usersig import usersig
from ._webhooks import webhooks

OUTPUT_HELP = (
    "Output: stdout carries only data, one JSON object per line (--output csv for CSV); "
    "summaries, resume cursors and errors go to stderr. Bulk commands read ids from a file or "
    "stdin (-) and run them concurrently; listings stop at --max-items and tell how to resume."
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=f"{ENV_HELP}\n\n{OUTPUT_HELP}\n\n{EPILOG}",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Settings file (default: $TIM_OA_CONFIG, else ~/.config/tim-oa/config.toml, honouring "
    "XDG_CONFIG_HOME): TOML, or JSON with a .json suffix, with the keys sdkappid, identifier, "
    "secret_key, usersig, region, base_url at the top level or in [profile] tables. The "
    "environment's TIM_OA_* variables win over it.",
)
@click.option(
    "--profile",
    metavar="NAME",
    help="The config file's [NAME] table to use (default: $TIM_OA_PROFILE, else 'default').",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Timeout of each request (default 10).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    metavar="N",
    help="Retries of a failed request (default 3; 0 disables).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log requests and retries to stderr; -vv logs every attempt. Secrets are never logged.",
)
@click.version_option(tim_oa.__version__, "--version", prog_name="tim-oa")
@click.pass_context
def cli(
    ctx: click.Context,
    config: Path | None,
    profile: str | None,
    timeout: float | None,
    max_retries: int | None,
    verbose: int,
) -> None:
    """Manage Tencent Cloud Chat Official Accounts from the command line."""
    state = State(
        config=config, profile=profile, timeout=timeout, max_retries=max_retries, verbose=verbose
    )
    ctx.call_on_close(state.setup_logging())
    ctx.obj = state


for command in (accounts, subscribers, messages, users, webhooks, usersig, emulator, demo, doctor):
    cli.add_command(command)
