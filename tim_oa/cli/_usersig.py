"""``tim-oa usersig``: generate a UserSig from the app's secret key."""

from __future__ import annotations

import click

from ._context import State


@click.command(short_help="Print a UserSig signed with the secret key.")
@click.argument("identifier", required=False)
@click.option(
    "--expire",
    type=click.IntRange(min=1),
    default=86_400,
    show_default=True,
    help="Validity in seconds.",
)
@click.pass_obj
def usersig(state: State, identifier: str | None, expire: int) -> None:
    """Print a UserSig for IDENTIFIER (default: the configured admin identifier).

    Signed locally with TIM_OA_SECRET_KEY for TIM_OA_SDKAPPID; no request is made. Only the
    signature is written to stdout, so it can be captured: SIG=$(tim-oa usersig).
    """

    def job() -> int:
        settings = state.settings()
        signer = settings.signer()
        click.echo(signer.generate(identifier or settings.identifier, expire=expire))
        return 0

    state.run(job)
