"""The ``tim-oa`` command line: every Official Account command, bulk jobs, the emulator, a demo.

click and rich are optional (``pip install "tim-oa[cli]"``). Importing this package does not import
them; :func:`main` does, and explains how to install them when they are missing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

INSTALL_HINT = 'tim-oa: the command line needs extra packages: pip install "tim-oa[cli]"'


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``tim-oa`` command line (the console script's entry point); exits the process."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2) from None
    from ._app import cli

    cli.main(args=list(argv) if argv is not None else None, prog_name="tim-oa")


__all__ = ["INSTALL_HINT", "main"]
