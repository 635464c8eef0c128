"""``python -m bench``: every row of the performance table in one interleaved run."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
