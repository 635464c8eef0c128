"""Fault injection: seeded random faults and targeted one-off faults.

Faults only hit requests that passed the protocol checks (route, method, query, UserSig, rate
limit, service switch, JSON body), so an injected fault never hides a signing or encoding bug in
the client. A fault decided *before* execution means the command did not run; an ``after_commit``
fault lets the command run and keep its effect, then loses or replaces the answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .._codes import ErrorCode

_DEFAULT_HTTP_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True)
class Faults:
    """Random faults, drawn from ``random.Random(seed)`` of the emulator.

    Each request that reaches the fault stage draws the same amount of randomness whatever the
    outcome, so a given seed and request sequence always produce the same faults.

    Attributes:
        error_rate: probability of answering with an error envelope (one of ``error_codes``).
        error_codes: the codes picked from, uniformly; by default two transient server errors.
        http_502_rate: probability of an HTTP 502 with an HTML body.
        drop_rate: probability of dropping the connection mid-response.
        latency: extra delay per request in real (wall-clock) seconds, fixed or a ``(min, max)``
            uniform range; applied to every request that reaches the fault stage.
    """

    error_rate: float = 0.0
    error_codes: Sequence[int] = (
        ErrorCode.INTERNAL_ERROR_OR_INVALID_PARAMETER,
        ErrorCode.SERVER_INTERNAL_ERROR,
    )
    http_502_rate: float = 0.0
    drop_rate: float = 0.0
    latency: float | tuple[float, float] = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "http_502_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        if self.error_rate and not self.error_codes:
            raise ValueError("error_codes must not be empty when error_rate > 0")
        low, high = self.latency if isinstance(self.latency, tuple) else (self.latency,) * 2
        if not 0.0 <= low <= high:
            raise ValueError(f"latency must be >= 0 (and min <= max), got {self.latency}")


@dataclass(frozen=True)
class FaultAction:
    """What an injected fault does to the answer."""

    kind: str  # "error" | "http" | "drop"
    code: int = 0
    http_status: int = 0
    body: bytes = b""


@dataclass
class _Rule:
    command: str | None
    action: FaultAction
    after_commit: bool
    remaining: int


@dataclass(frozen=True)
class FaultPlan:
    """The faults for one request: before execution, after execution, and the added latency."""

    before: FaultAction | None = None
    after: FaultAction | None = None
    latency: float = 0.0


class FaultInjector:
    """Decides the faults of each request. The emulator calls it under its lock."""

    def __init__(self, faults: Faults | None, seed: int) -> None:
        self.faults = faults
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[_Rule] = []

    def reset(self) -> None:
        """Re-seed the random stream and forget pending targeted faults."""
        self._rng = random.Random(self._seed)
        self._rules.clear()

    def add_rule(
        self,
        command: str | None,
        *,
        code: int | None,
        http_status: int | None,
        drop: bool,
        body: bytes | str | None,
        after_commit: bool,
        times: int,
    ) -> None:
        """Queue a targeted fault; see ``Emulator.fail_next``."""
        if sum((code is not None, http_status is not None, drop)) != 1:
            raise ValueError("give exactly one of code=, http_status= or drop=True")
        if times < 1:
            raise ValueError("times must be at least 1")
        if code is not None:
            if code == 0:
                raise ValueError("code must be a non-zero error code")
            action = FaultAction("error", code=int(code))
        elif http_status is not None:
            if not 100 <= http_status <= 599 or http_status == 200:
                raise ValueError("http_status must be an HTTP status other than 200")
            raw = _DEFAULT_HTTP_BODY if body is None else body
            action = FaultAction(
                "http",
                http_status=http_status,
                body=raw.encode("utf-8") if isinstance(raw, str) else raw,
            )
        else:
            action = FaultAction("drop")
        self._rules.append(_Rule(command, action, after_commit, times))

    @property
    def pending(self) -> int:
        """How many targeted faults are still waiting to fire."""
        return sum(rule.remaining for rule in self._rules)

    def plan(self, command: str) -> FaultPlan:
        """Decide the faults of one request for ``command``."""
        drawn = self._draw()
        for rule in self._rules:
            if rule.command is None or rule.command == command:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
                if rule.after_commit:
                    return FaultPlan(after=rule.action, latency=drawn.latency)
                return FaultPlan(before=rule.action, latency=drawn.latency)
        return drawn

    def _draw(self) -> FaultPlan:
        # Always five draws per request, so the stream never depends on which fault fired.
        u_drop, u_502, u_error, u_code, u_latency = (self._rng.random() for _ in range(5))
        faults = self.faults
        if faults is None:
            return FaultPlan()
        low, high = faults.latency if isinstance(faults.latency, tuple) else (faults.latency,) * 2
        latency = low + (high - low) * u_latency
        if u_drop < faults.drop_rate:
            action: FaultAction | None = FaultAction("drop")
        elif u_502 < faults.http_502_rate:
            action = FaultAction("http", http_status=502, body=_DEFAULT_HTTP_BODY)
        elif u_error < faults.error_rate:
            codes = list(faults.error_codes)
            action = FaultAction("error", code=int(codes[int(u_code * len(codes)) % len(codes)]))
        else:
            action = None
        return FaultPlan(before=action, latency=latency)
