"""``tim-oa doctor``: check the settings, the key, the network, the clock and the admin account.

One line per check, in order, each with what to do when it fails; the exit status is 1 when any
check failed. Checks that cannot run because an earlier one failed are reported as skipped. The
network is reached through :class:`Probes`, so tests give fakes and never contact Tencent. No
output (text or ``--json``) ever holds the secret key or a UserSig: every text goes through the
command's redaction.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

import anyio
import click
import httpx

import tim_oa
from tim_oa._options import is_loopback_host
from tim_oa._usersig import decode_usersig

from ._config import ENV, Settings
from ._context import State
from ._exitcodes import InputError

Status = Literal["ok", "warn", "fail", "skip"]

CLOCK_TOLERANCE = 300.0
"""Seconds of clock offset beyond which a UserSig made here may be rejected by the server."""

_SECRET_KEY_SHAPE = re.compile(r"[0-9a-f]{64}")
_DUMMY_ACCOUNT = "@TOA#_tim_oa_doctor"


@dataclass
class Check:
    """The outcome of one check: ``status`` is ok, warn (works, but look), fail or skip."""

    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Probes:
    """How doctor reaches the network; tests replace these with fakes.

    ``resolve(host)`` returns the host's addresses; ``tls(host)`` completes a TLS handshake on
    port 443 and returns the protocol version; ``server_date(base_url)`` returns the server's
    time (from its ``Date`` header) as seconds since the epoch, or None without one.
    """

    resolve: Callable[[str], list[str]] = field(default=lambda host: _resolve(host))
    tls: Callable[[str], str] = field(default=lambda host: _tls(host))
    server_date: Callable[[str], Awaitable[float | None]] = field(
        default=lambda url: _server_date(url)
    )
    clock: Callable[[], float] = time.time


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _tls(host: str, timeout: float = 5.0) -> str:
    context = ssl.create_default_context()
    with (
        socket.create_connection((host, 443), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return tls.version() or "TLS"


async def _server_date(base_url: str) -> float | None:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(base_url.rstrip("/") + "/")
    value = response.headers.get("date")
    return parsedate_to_datetime(value).timestamp() if value else None


def is_loopback(base_url: str) -> bool:
    """Whether ``base_url`` points at this machine (an emulator): no DNS or TLS to check."""
    return is_loopback_host(urlsplit(base_url).hostname or "")


# What to do about an answer's code, by code; the meaning comes from tim_oa's code table.
_WRONG_KEY = (
    "the secret key does not match the app: copy this SDKAppID's secret key (SDKSecretKey) "
    "again from the Chat console"
)
_WRONG_APP = (
    "the SDKAppID or the region is wrong: check TIM_OA_SDKAPPID and that TIM_OA_REGION is the "
    "data centre the app was created in"
)
_NOT_ADMIN = (
    "TIM_OA_IDENTIFIER is not an App admin: make it one in the Chat console, or set "
    "TIM_OA_IDENTIFIER to an admin account"
)
_NOT_ENABLED = (
    "the app cannot use Official Accounts: check that its plan includes them, and switch the "
    "Official Account service on in the Chat console"
)
_FIXES: dict[int, str] = {
    70001: "the UserSig expired: check this machine's clock (above), or make a new TIM_OA_USERSIG",
    70002: "the UserSig is empty: set TIM_OA_SECRET_KEY (or TIM_OA_USERSIG)",
    70003: _WRONG_KEY + "; a TIM_OA_USERSIG may be truncated",
    70009: _WRONG_KEY,
    70013: "the UserSig was made for another identifier than TIM_OA_IDENTIFIER",
    70014: _WRONG_APP,
    70016: _WRONG_APP,
    70020: _WRONG_APP,
    60006: _WRONG_APP,
    70050: _WRONG_KEY + "; the server refuses this key for a minute after repeated failures",
    60010: _NOT_ADMIN,
    60021: "this machine's IP address is not on the app's allowlist in the Chat console",
    60016: _NOT_ENABLED,
    60020: "the app's paid plan expired: renew it (it works again 5 minutes later)",
    131000: _NOT_ENABLED,
}


def explain(error: tim_oa.ApiError) -> tuple[str, str]:
    """What an API error means (from the code table) and what to do about it."""
    try:
        meaning = tim_oa.ErrorCode(error.code).name.lower().replace("_", " ")
    except ValueError:
        meaning = "a code tim_oa does not know"
    fix = _FIXES.get(error.code, "")
    if not fix:
        if isinstance(error, tim_oa.PermissionDeniedError):
            fix = _NOT_ADMIN
        elif isinstance(error, tim_oa.ServiceNotEnabledError):
            fix = _NOT_ENABLED
        elif isinstance(error, tim_oa.AuthError):
            fix = _WRONG_KEY
        else:
            fix = "see the error-code table of the tim_oa docs (reference/error-codes)"
    return f"{error.code} ({meaning}): {error.info or type(error).__name__}", fix


class Doctor:
    """Runs the checks in order for one set of settings."""

    def __init__(
        self,
        state: State,
        probes: Probes | None = None,
        open_session: Callable[[Settings], tim_oa.Session] | None = None,
    ) -> None:
        self.state = state
        self.probes = probes or Probes()
        self._open_session = open_session or (lambda settings: self.state.session(max_retries=0))
        self.checks: list[Check] = []

    def add(self, name: str, status: Status, detail: str, fix: str = "") -> None:
        """Record a check, its texts scrubbed of every secret."""
        redact = self.state.redact
        self.checks.append(Check(name, status, redact(detail), redact(fix)))

    def skip(self, *names: str, reason: str) -> None:
        """Record checks that could not run."""
        for name in names:
            self.add(name, "skip", reason)

    async def run(self) -> list[Check]:
        """Every check, in order."""
        later = ("usersig", "dns", "tls", "clock", "admin read", "admin imported")
        try:
            settings = self.state.settings()
        except InputError as exc:
            self.add("settings", "fail", str(exc), "fix the setting named above")
            self.skip("secret key", *later, reason="no settings")
            return self.checks
        if not self.settings_complete(settings):
            self.skip("secret key", *later, reason="settings incomplete")
            return self.checks
        key_ok = self.secret_key(settings)
        self.usersig(settings) if key_ok else self.skip("usersig", reason="no usable key")
        self.network(settings)
        await self.clock(settings)
        if key_ok:
            await self.admin(settings)
        else:
            self.skip("admin read", "admin imported", reason="no usable key")
        return self.checks

    def settings_complete(self, settings: Settings) -> bool:
        """Check that the app id, a credential and a target are set."""
        missing = []
        if settings.sdkappid is None:
            missing.append(ENV["sdkappid"])
        if not settings.secret_key and not settings.usersig:
            missing.append(f"{ENV['secret_key']} (or {ENV['usersig']})")
        if settings.region is None and settings.base_url is None:
            missing.append(f"{ENV['region']} (or {ENV['base_url']})")
        if missing:
            self.add(
                "settings",
                "fail",
                "missing " + ", ".join(missing),
                "set them in the environment, or the same keys in lower case (without TIM_OA_) "
                "in the config file",
            )
            return False
        target = settings.region.name.lower() if settings.region else settings.base_url
        credential = "secret key" if settings.secret_key else "fixed UserSig"
        self.add(
            "settings",
            "ok",
            f"sdkappid {settings.sdkappid}, identifier {settings.identifier}, {credential}, "
            f"target {target}",
        )
        return True

    def secret_key(self, settings: Settings) -> bool:
        """Check the key's shape (the console shows 64 hex characters); False when unusable."""
        key = settings.secret_key
        if not key:
            self.add(
                "secret key",
                "warn",
                "none: a fixed TIM_OA_USERSIG is used, and it cannot be renewed when it expires",
                "set TIM_OA_SECRET_KEY for long-running use",
            )
            return True
        if any(c.isspace() or c in "\"'" for c in key):
            self.add(
                "secret key",
                "fail",
                f"{len(key)} characters, with spaces or quotes in it",
                "copy the key again without quotes, spaces or line breaks",
            )
            return False
        if _SECRET_KEY_SHAPE.fullmatch(key):
            self.add("secret key", "ok", "64 hexadecimal characters, the console's shape")
        else:
            self.add(
                "secret key",
                "warn",
                f"{len(key)} characters, not the 64 hexadecimal characters the Chat console "
                "shows (fine for an emulator)",
                "for Tencent, copy the SDKSecretKey from the Chat console",
            )
        return True

    def usersig(self, settings: Settings) -> None:
        """Check that a UserSig made here verifies with the same key, app and identifier."""
        from tim_oa.testing._failure import Failure
        from tim_oa.testing._usersig import UserSigVerifier

        assert settings.sdkappid is not None
        now = time.time()  # the signer's own clock: this check is local
        if settings.secret_key:
            sig = tim_oa.UserSigSigner(settings.sdkappid, settings.secret_key).generate(
                settings.identifier
            )
            verifier = UserSigVerifier(settings.secret_key)
            try:
                verifier.verify(
                    sig, identifier=settings.identifier, sdkappid=settings.sdkappid, now=now
                )
            except Failure as exc:
                self.add("usersig", "fail", f"made here, does not verify: {exc}", _WRONG_KEY)
                return
            self.add("usersig", "ok", "signed and verified locally (HMAC-SHA256, valid 1 day)")
            return
        assert settings.usersig is not None
        try:
            doc = decode_usersig(settings.usersig)
            expires = int(doc["TLS.time"]) + int(doc["TLS.expire"])
            made_for = (str(doc["TLS.identifier"]), int(doc["TLS.sdkappid"]))
        except (ValueError, KeyError, TypeError):
            self.add("usersig", "fail", "TIM_OA_USERSIG cannot be decoded", "make a new one")
            return
        if made_for != (settings.identifier, settings.sdkappid):
            self.add(
                "usersig",
                "fail",
                f"made for identifier {made_for[0]} of app {made_for[1]}",
                "make one for TIM_OA_IDENTIFIER and TIM_OA_SDKAPPID",
            )
        elif expires <= now:
            self.add("usersig", "fail", "TIM_OA_USERSIG has expired", "make a new one")
        else:
            hours = (expires - now) / 3600
            self.add("usersig", "ok", f"decoded; expires in {hours:.1f} h (not verifiable here)")

    def hosts(self, settings: Settings) -> list[str]:
        """The hosts to resolve and reach: a region's two domains, or the base URL's host."""
        if settings.region is not None:
            return [settings.region.host, settings.region.backup_host]
        assert settings.base_url is not None
        return [urlsplit(settings.base_url).hostname or ""]

    def network(self, settings: Settings) -> None:
        """DNS and TLS to each host (not applicable to a loopback base URL)."""
        if settings.base_url is not None and is_loopback(settings.base_url):
            self.add("dns", "skip", "n/a: a loopback base URL")
            self.add("tls", "skip", "n/a: a loopback base URL")
            return
        resolved: list[str] = []
        for host in self.hosts(settings):
            try:
                addresses = self.probes.resolve(host)
            except OSError as exc:
                self.add(
                    "dns",
                    "fail",
                    f"{host}: {exc.strerror or exc}",
                    "check this machine's DNS; where a domain is hijacked or blocked, "
                    "Session(use_backup_domain=True) uses the backup domain",
                )
                continue
            resolved.append(host)
            self.add("dns", "ok", f"{host}: {', '.join(addresses[:3])}")
        plain = settings.base_url is not None and settings.base_url.startswith("http://")
        for host in resolved:
            if plain:
                self.add("tls", "skip", f"n/a: {host} is reached over plain http")
                continue
            try:
                version = self.probes.tls(host)
            except (OSError, ssl.SSLError) as exc:
                self.add(
                    "tls",
                    "fail",
                    f"{host}:443: {type(exc).__name__}: {exc}",
                    "check the proxy or firewall between this machine and Tencent, and that "
                    "the system's CA certificates are installed",
                )
                continue
            self.add("tls", "ok", f"{host}:443, {version}")

    async def clock(self, settings: Settings) -> None:
        """Compare this machine's clock with the server's ``Date`` header."""
        base_url = settings.base_url or (settings.region.base_url() if settings.region else "")
        before = self.probes.clock()
        try:
            server = await self.probes.server_date(base_url)
        except (httpx.HTTPError, OSError, ValueError, TypeError) as exc:
            self.add("clock", "fail", f"no answer from {base_url}: {type(exc).__name__}", "")
            return
        if server is None:
            self.add("clock", "warn", "the server's answer has no Date header")
            return
        local = (before + self.probes.clock()) / 2
        offset = local - server
        if abs(offset) < 1.5:  # the Date header counts whole seconds
            detail = "this machine's clock is within a second of the server's"
        else:
            side = "ahead of" if offset > 0 else "behind"
            detail = f"this machine's clock is {abs(offset):.0f} s {side} the server's"
        if abs(offset) > CLOCK_TOLERANCE:
            self.add(
                "clock",
                "fail",
                detail,
                "a UserSig is only valid within its time window: sync this machine's clock "
                "(NTP: timedatectl set-ntp true)",
            )
        else:
            self.add("clock", "ok", detail)

    async def admin(self, settings: Settings) -> None:
        """One harmless read as the admin, then whether the admin account is imported."""
        session = self._open_session(settings)
        try:
            try:
                await session.get_accounts([_DUMMY_ACCOUNT])
            except tim_oa.ApiError as exc:
                detail, fix = explain(exc)
                self.add("admin read", "fail", f"get_accounts answered {detail}", fix)
                self.skip("admin imported", reason="the admin read failed")
                return
            except tim_oa.TimOAError as exc:
                self.add(
                    "admin read",
                    "fail",
                    f"{type(exc).__name__}: {exc}",
                    "check the network checks above, and TIM_OA_REGION / TIM_OA_BASE_URL",
                )
                self.skip("admin imported", reason="the admin read failed")
                return
            self.add("admin read", "ok", f"get_accounts as {settings.identifier} answered")
            await self.admin_imported(session, settings.identifier)
        finally:
            with anyio.CancelScope(shield=True):
                await session.aclose()

    async def admin_imported(self, session: tim_oa.Session, identifier: str) -> None:
        """Check that the admin identifier is an imported account (``Session.check_accounts``)."""
        try:
            imported = await session.check_accounts([identifier])
        except tim_oa.TimOAError as exc:
            detail = explain(exc)[0] if isinstance(exc, tim_oa.ApiError) else str(exc)
            self.add("admin imported", "fail", f"account_check answered {detail}", "")
            return
        if imported.get(identifier):
            self.add("admin imported", "ok", f"{identifier} is an imported account")
        else:
            self.add(
                "admin imported",
                "fail",
                f"{identifier} is not an imported account",
                f"import it: await oa.import_account({identifier!r}), or in the Chat console",
            )


_MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "--  "}


def render(checks: list[Check]) -> str:
    """One line per check, and an indented ``->`` line with the fix of each failure."""
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{_MARKS[check.status]}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status in ("fail", "warn"):
            lines.append(f"{'':6}{'':<{width}}  -> {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    lines.append(f"{failed} check(s) failed" if failed else "all checks passed")
    return "\n".join(lines)


@click.command(short_help="Check the settings, key, network, clock and admin account.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout, for scripts.")
@click.pass_obj
def doctor(state: State, as_json: bool) -> None:
    """Check everything a first call needs, one line per check, with what to do on a failure.

    Reads the same settings as every other command. Checks: the settings are complete; the
    secret key has the console's shape; a UserSig made with it verifies locally; DNS and TLS to
    the region's domain and its backup domain (not for a loopback base URL); this machine's clock
    against the server's; one harmless read as the admin identifier (get_accounts of a dummy id),
    with what a failure code means; whether the admin identifier is an imported account. Exits 1
    when any check fails. No secret is ever printed.
    """

    def job() -> int:
        checks = state.run_async(Doctor(state).run)
        failed = any(check.status == "fail" for check in checks)
        if as_json:
            payload = {"ok": not failed, "checks": [asdict(check) for check in checks]}
            click.echo(state.redact(json.dumps(payload)))
        else:
            click.echo(state.redact(render(checks)))
        return 1 if failed else 0

    state.run(job)
