"""Nox sessions: tests, lint, type checks, lowest dependency versions, benchmarks, docs, build."""

import shutil
import tarfile
from pathlib import Path

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


@nox.session(python="3.11")
def docs_serve(session: nox.Session) -> None:
    """Serve the documentation site on http://127.0.0.1:8000, rebuilt on every change."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "serve", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


# Run from the unpacked source distribution by ``build``: what a packager runs. The whole suite
# must collect (every file the tests import is in the sdist); these run to the end.
SDIST_TESTS = [
    "tests/test_wire.py",
    "tests/test_registry.py",
    "tests/test_bulk.py",
    "tests/test_login.py",
    "tests/test_public_api.py",
    "tests/test_structure.py",
    "tests/test_readme.py",
    "tests/test_bench.py",
    "tests/emulator",
]


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, install the sdist and test it unpacked.

    The sdist is installed as a user would (not editable), and its own tests run from the
    unpacked tree: the whole suite is collected, and a fast subset (``SDIST_TESTS``, or the
    arguments after ``--``) is run.
    """
    session.install("build>=1.2", "twine>=5")
    tmp = Path(session.create_tmp())
    dist = tmp / "dist"
    unpacked = tmp / "sdist"
    for folder in (dist, unpacked):
        shutil.rmtree(folder, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    artifacts = sorted(str(p) for p in dist.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    sdist = next(dist.glob("*.tar.gz"))
    session.install(f"{sdist}[test]")
    unpacked.mkdir()
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()
    session.chdir(root)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only")
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *(session.posargs or SDIST_TESTS)
    )
