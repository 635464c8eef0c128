"""Benchmarks for tim_oa: run ``python -m bench`` (or ``nox -s bench``)."""
