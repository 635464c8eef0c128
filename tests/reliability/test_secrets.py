"""Secrets audit: no UserSig or secret key on any error path (issue 8, item 11).

For every error path the suite can provoke (hostile answers, timeouts, ErrorInfo echoing the
signed URL and UserSigs, auth errors from the emulator, a failing UserSig provider, bad input, a
closed session), it renders the exception's message, ``repr`` and attributes, its traceback WITH
LOCALS through every ``__cause__`` and ``__context__`` (suppressed or not), and every log record
of the ``tim_oa``, ``httpx`` and ``httpcore`` loggers at DEBUG; then searches all of it for the
secret key and every UserSig the signers issued during the test (raw, percent-encoded, its
head, its tail and its inner HMAC): zero hits.
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import pytest

import tim_oa
from tim_oa.testing import Emulator

from .hostile import (
    HostileServer,
    SeenRequest,
    delayed,
    error_envelope,
    html,
    json_reply,
    redirect,
    reply,
    reset_after_read,
    retry_after,
    silent,
    trickle_body,
    truncated_json,
    with_fields,
)
from .support import (
    ACCOUNT,
    ADMIN,
    SDKAPPID,
    SECRET_KEY,
    RecordingSigner,
    count,
    describe,
    emulator_session,
    is_group,
    make_session,
)

LOGGERS = ("tim_oa", "httpx", "httpcore")
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def variants(secret: str) -> list[str]:
    """The forms a secret may take in text: raw, percent-encoded, head, tail, inner HMAC."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    if len(secret) > 60:
        forms |= {secret[:40], secret[-40:]}
    try:
        inner = tim_oa.decode_usersig(secret).get("TLS.sig")
    except Exception:
        inner = None
    if isinstance(inner, str):
        forms |= {inner, quote(inner, safe="")}
    return sorted(forms)


def render_exception(exc: BaseException) -> str:
    """Everything an exception can show: message, repr, attributes, tracebacks with locals."""
    parts: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(vars(current))]
        te = traceback.TracebackException.from_exception(current, capture_locals=True)
        parts.append("".join(te.format()))
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        if is_group(current):
            stack += list(current.exceptions)  # type: ignore[attr-defined]
        result = getattr(current, "result", None)
        if isinstance(result, tim_oa.BatchResult):
            parts.append(repr(result))
            stack += [o.error for o in result.outcomes.values() if o.error is not None]
    return "\n".join(parts)


class Audit:
    """Collects texts and log records during a test, then counts secrets found in them."""

    def __init__(self) -> None:
        self.signers: list[RecordingSigner] = []
        self.secrets: set[str] = {SECRET_KEY}
        self.texts: list[tuple[str, str]] = []
        self.records: list[logging.LogRecord] = []
        self.errors = 0

    def signer(self, secret_key: str = SECRET_KEY, **kwargs: Any) -> RecordingSigner:
        signer = RecordingSigner(SDKAPPID, secret_key, **kwargs)
        self.signers.append(signer)
        self.secrets.add(secret_key)
        return signer

    def exception(self, label: str, exc: BaseException) -> None:
        self.errors += 1
        self.texts.append((label, render_exception(exc)))

    def text(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def hits(self) -> list[str]:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        texts = list(self.texts)
        for record in self.records:
            extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            texts.append((f"log {record.name}", f"{formatter.format(record)} {extras!r}"))
        secrets = set(self.secrets)
        for signer in self.signers:
            secrets |= signer.issued
        found = []
        for secret in secrets:
            forms = variants(secret)
            for label, text in texts:
                at = min((i for i in (text.find(f) for f in forms) if i >= 0), default=-1)
                if at >= 0:
                    before = text[max(0, at - 60) : at].replace("\n", " ")
                    found.append(f"{label}: a secret shows after …{before!r}")
        count("texts scanned", len(texts))
        count("secret hits", len(found))
        return found

    def assert_clean(self) -> None:
        assert self.errors > 0, "the audit saw no error: the path was not provoked"
        hits = self.hits()
        assert hits == [], "\n".join(hits[:10])


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in LOGGERS:
            self.into.append(record)


@pytest.fixture
def audit() -> Iterator[Audit]:
    result = Audit()
    handler = _Collect(result.records)
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield result
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def provoke(
    audit: Audit, label: str, call: Callable[[], Awaitable[Any]], limit: float = 10
) -> BaseException | None:
    """Run ``call`` and audit what it raises. A path that does not fail (yet) has nothing to
    show; other tests of the suite say whether it should fail."""
    with anyio.fail_after(limit):
        try:
            await call()
        except Exception as exc:
            audit.exception(label, exc)
            return exc
    return None


# --- the detector itself -----------------------------------------------------------------------


def test_the_audit_finds_a_leak_in_every_form(audit: Audit) -> None:
    signer = audit.signer()
    sig = signer.get(ADMIN)
    inner = tim_oa.decode_usersig(sig)["TLS.sig"]
    for leak in (sig, quote(sig, safe=""), quote_plus(sig), sig[:40] + "…", "…" + sig[-40:], inner):
        audit.texts = [("canary", f"before {leak} after")]
        assert audit.hits(), f"the audit missed {leak[:10]}…"
    audit.texts = [("canary", f"key={SECRET_KEY}")]
    assert audit.hits()
    audit.texts = [("clean", "usersig=<redacted>")]
    assert audit.hits() == []
    count("secret hits", -7)  # the canaries above are not real hits


# --- hostile answers ---------------------------------------------------------------------------


def _echo(request: SeenRequest, signer: RecordingSigner) -> str:
    """ErrorInfo quoting the signed URL, the UserSig sent, and another UserSig of the signer."""
    sent = request.query.get("usersig", "")
    foreign = signer.generate("intruder")
    return f"bad request {request.target} sig={sent} see also {foreign} ({quote(sent)})"


HOSTILE: dict[str, Callable[[RecordingSigner, HostileServer], Any]] = {
    "html": lambda s, o: html(),
    "http-502": lambda s, o: reply(502, "bad gateway"),
    "truncated": lambda s, o: truncated_json(),
    "reset-after-read": lambda s, o: reset_after_read(),
    "never-answers": lambda s, o: silent(),
    "trickle": lambda s, o: trickle_body(0.1),
    "retry-after": lambda s, o: retry_after(429, 300),
    "redirect-echo": lambda s, o: redirect(lambda r: o.base_url + r.target),
    "echo-70009": lambda s, o: json_reply(lambda r: error_envelope(70009, _echo(r, s))),
    "echo-6017": lambda s, o: json_reply(lambda r: error_envelope(6017, _echo(r, s))),
    "echo-retried": lambda s, o: json_reply(lambda r: error_envelope(20005, _echo(r, s))),
    "echo-in-location": lambda s, o: redirect(
        lambda r: f"{o.base_url}/x?u={r.query.get('usersig')}&e={_echo(r, s)}"
    ),
    "bad-shape": lambda s, o: with_fields(MsgKey=7, SubscriberList="x"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_hostile_error_paths_show_no_secret(
    audit: Audit, hostile: HostileServer, other_server: HostileServer, kind: str
) -> None:
    signer = audit.signer()
    hostile.always(HOSTILE[kind](signer, other_server))
    session = make_session(
        hostile.base_url, usersig=signer, timeout=0.5, max_retries=1, retry_deadline=5
    )
    async with session as oa:
        await provoke(audit, f"{kind} send", lambda: oa.send_message(ACCOUNT, "hi"), limit=4)
        with anyio.fail_after(4):
            result = await oa.add_subscribers(ACCOUNT, ["u1", "u2"])
        for outcome in result.outcomes.values():
            if outcome.error is not None:
                audit.exception(f"{kind} batch outcome", outcome.error)
        audit.text(f"{kind} batch", repr(result) + repr(list(result.outcomes.values())))
        await provoke(audit, f"{kind} raise_for_failures", _raiser(result))
    assert hostile.requests and hostile.requests[0].query["usersig"] in signer.issued
    audit.assert_clean()


def _raiser(result: tim_oa.BatchResult) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        result.raise_for_failures()

    return run


async def test_closing_under_a_request_shows_no_secret(
    audit: Audit, hostile: HostileServer
) -> None:
    signer = audit.signer()
    hostile.script(delayed(0.3, reply(502, "bad gateway")))
    oa = make_session(hostile.base_url, usersig=signer, max_retries=3)

    async def call_then_close() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(oa.modify_account, ACCOUNT, name="x"))
            await anyio.sleep(0.1)
            await oa.aclose()

    await provoke(audit, "closed in flight", call_then_close)
    await provoke(audit, "closed", lambda: oa.get_accounts([ACCOUNT]))
    audit.assert_clean()


# --- the emulator's own refusals ---------------------------------------------------------------


def emulator() -> Emulator:
    return Emulator(SDKAPPID, SECRET_KEY, rate_limit=None, send_per_second=None)


async def test_a_wrong_key_70009_shows_no_secret(audit: Audit) -> None:
    emu = emulator()
    wrong = audit.signer("another-apps-secret-key-0123456789abcdef")
    async with emulator_session(emu, usersig=wrong, max_retries=1) as oa:
        exc = await provoke(audit, "70009", lambda: oa.create_account("owner", "News"))
    assert isinstance(exc, tim_oa.AuthError), describe(exc)
    assert exc.code == 70009
    audit.assert_clean()


async def test_an_expired_usersig_70001_shows_no_secret(audit: Audit) -> None:
    emu = emulator()
    stale = audit.signer(clock=lambda: time.time() - 3 * 86400)  # every signature is expired
    async with emulator_session(emu, usersig=stale) as oa:
        exc = await provoke(audit, "70001", lambda: oa.create_account("owner", "News"))
    assert isinstance(exc, tim_oa.UserSigExpiredError), describe(exc)
    audit.assert_clean()


async def test_a_failing_usersig_provider_shows_no_secret(audit: Audit) -> None:
    emu = emulator()
    stale = audit.signer(clock=lambda: time.time() - 3 * 86400)
    calls = 0

    async def provider(identifier: str) -> str:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("the vault is unreachable")
        return stale.get(identifier)  # expired: the server answers 70001 and we must renew

    async with emulator_session(emu, usersig=provider) as oa:
        await provoke(audit, "provider fails on renewal", lambda: oa.destroy_account(ACCOUNT))
    assert calls >= 2
    audit.assert_clean()


async def test_a_provider_returning_garbage_shows_no_secret(audit: Audit) -> None:
    signer = audit.signer()
    sig = signer.get(ADMIN)
    answers = iter([sig, ""])

    def provider(identifier: str) -> str:
        return next(answers, "")

    emu = Emulator(SDKAPPID, SECRET_KEY, rate_limit=None)
    emu.fail_next(code=70001)  # makes the session ask the provider again
    async with emulator_session(emu, usersig=provider) as oa:
        await provoke(audit, "provider returns empty", lambda: oa.destroy_account(ACCOUNT))
    audit.assert_clean()


# --- bad input ---------------------------------------------------------------------------------


async def test_validation_errors_show_no_secret(audit: Audit) -> None:
    signer = audit.signer()
    signer.get(ADMIN)
    audit.secrets.add("fixed-secret-usersig-value-4d1c")

    async def bad_session() -> None:
        tim_oa.Session(SDKAPPID, "admin\nistrator", usersig=signer, base_url="https://api.test")

    async def bad_call() -> None:
        async with tim_oa.Session(
            SDKAPPID, ADMIN, usersig="fixed-secret-usersig-value-4d1c", base_url="https://api.test"
        ) as oa:
            await oa.modify_account("not an id", name="x")

    async def bad_body() -> None:  # no secret in this frame's locals: the signer hides its own
        url = "https://api.test"
        async with tim_oa.Session(SDKAPPID, ADMIN, usersig=signer, base_url=url) as oa:
            await oa.call("destroy_official_account", {"Official_Account": {1, 2}})

    for label, call in [
        ("bad session", bad_session),
        ("bad call", bad_call),
        ("bad body", bad_body),
    ]:
        await provoke(audit, label, call)
    audit.text("signer repr", repr(signer))
    audit.assert_clean()
