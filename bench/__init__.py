"""Benchmarks for tim_oa: ``python -m bench`` (or ``nox -s bench``); see bench/README.md."""
