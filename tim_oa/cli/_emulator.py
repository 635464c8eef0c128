"""``tim-oa emulator serve``: the embedded emulator on a loopback port.

The ``serve`` command is the one ``python -m tim_oa.testing`` runs (``tim_oa.testing._cli``), so
both have the same options and help.
"""

from __future__ import annotations

import click

from tim_oa.testing._cli import serve_command


@click.group(short_help="Serve the embedded emulator on a loopback port.")
def emulator() -> None:
    """The embedded Official Account emulator (tim_oa.testing)."""


emulator.add_command(serve_command())
