"""``tim-oa webhooks``: what a webhook receiver needs from Tencent (the callback addresses)."""

from __future__ import annotations

import sys
import time

import click

from ._context import State
from ._exitcodes import OK
from ._options import output_option
from ._output import RecordWriter, format_seconds, note


@click.group(short_help="Tencent's webhook source addresses, for an allowlist.")
def webhooks() -> None:
    """What a webhook receiver needs from Tencent."""


@webhooks.command()
@click.option(
    "--receiver-in-china/--receiver-outside-china",
    "receiver_in_china",
    default=None,
    help="Where your receiver runs: only the addresses Tencent calls it from (default: every "
    "address of the service, a superset).",
)
@output_option
@click.pass_obj
def ips(state: State, receiver_in_china: bool | None, output: str) -> None:
    """Print the addresses and CIDR ranges Tencent's webhooks come from (GetIPList).

    One record per entry, {"address": ...}, for a firewall or a reverse proxy's allowlist
    (`tim-oa webhooks ips | jq -r .address`). The list changes rarely: fetch it at deploy time.
    """

    def job() -> int:
        started = time.perf_counter()

        async def go() -> list[str]:
            async with state.open_session() as oa:
                return await oa.get_callback_ips(receiver_in_china=receiver_in_china)

        addresses = state.run_async(go)
        writer = RecordWriter(sys.stdout, output, columns=("address",))
        for address in addresses:
            writer.write({"address": address})
        writer.flush()
        elapsed = format_seconds(time.perf_counter() - started)
        count = f"{len(addresses):,} address{'' if len(addresses) == 1 else 'es'}"
        note(f"webhooks ips: {count} in {elapsed}")
        return OK

    state.run(job)
