"""Nox sessions: tests, lint, type checks, the lowest dependency versions, benchmarks, docs."""

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "typing"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=[p for p in PYTHONS if p != "3.10"])
def tests_httpx2(session: nox.Session) -> None:
    """The transport, reliability and emulator tests with httpx2 as the HTTP stack."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "tests/test_transport.py",
        "tests/reliability",
        "tests/emulator",
        "--ignore=tests/reliability/test_bulk_faults.py",
        "--ignore=tests/reliability/test_cli_failed_ids.py",
        *session.posargs,
        env={"TIM_OA_TEST_BACKEND": "httpx2"},
    )


@nox.session(python="3.11")
def tests_lowest(session: nox.Session) -> None:
    """Run the suite against the lower bounds stated in pyproject.toml."""
    session.install(
        "httpx==0.27.0",
        "anyio==4.4.0",
        "attrs==23.2.0",
        "cattrs==24.1.0",
        "sniffio==1.3.0",
        "aiohttp==3.10.0",
    )
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy>=1.11")
    session.run("mypy")


@nox.session(python="3.11")
def typing(session: nox.Session) -> None:
    """Type-check a user's program with mypy --strict and pyright strict (tests/typing)."""
    session.install("-e", ".", "mypy>=1.11", "pyright>=1.1.380")
    session.run("python", "tests/typing/check.py")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The performance table (bench/README.md); pass bench options after ``--``."""
    # aiohttp: the bare-aiohttp baseline rows; httptools: the uvicorn server the bench compares
    # its own server with. Rows whose feature is missing print n/a instead of failing.
    session.install("-e", ".[test]", "aiohttp>=3.9", "httptools>=0.6")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site; --strict fails on any broken link, snippet or reference."""
    session.install("-e", ".[docs,test]")
    session.run("pytest", "-q", "tests/test_docs.py", "tests/test_docs_hooks.py")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})
