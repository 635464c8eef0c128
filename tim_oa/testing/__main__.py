"""Run the emulator server: ``python -m tim_oa.testing --help``."""

from ._cli import main

raise SystemExit(main())
