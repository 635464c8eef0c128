"""``tim-oa emulator serve``: the embedded emulator on a loopback port."""

from __future__ import annotations

import click


@click.group(short_help="Serve the embedded emulator on a loopback port.")
def emulator() -> None:
    """The embedded Official Account emulator (tim_oa.testing)."""


@emulator.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Serve an emulator on a loopback port until Ctrl-C (see: tim-oa emulator serve --help).

    Options are those of python -m tim_oa.testing (--host, --port, --sdkappid, --seed, ...);
    the secret key is read from TIM_OA_SECRET_KEY. Point the other commands at it with
    TIM_OA_BASE_URL.
    """
    from tim_oa.testing import main as serve_main

    raise click.exceptions.Exit(serve_main(list(args)))
