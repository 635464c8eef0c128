"""Rows: client CPU per call against the bare code, the server's own cost, aiohttp and httpx2.

Every measurement here runs against the bench server with no latency and no rate limit, in a
fresh event loop with a fresh client, and reports this process's CPU time per call. The session
gets ``rate_limit=1_000_000`` so its limiter runs but never waits: these rows measure the cost of
a call, not pacing. Everything else is the session's default.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from . import _clients as C
from ._harness import Context, Measurement, Metrics, Outcome, Row, Series, paired_ratio
from ._server import server_process

CALL_BODY = C.get_info_body()
ADD_IDS = [f"user{i:05d}" for i in range(100)]
ADD_BODY = C.add_body(ADD_IDS)


def _calls(ctx: Context, full: int = 2000) -> int:
    return ctx.size(full, max(60, full // 8))


def _cpu_measurement(
    key: str,
    make: Callable[[Context], Any],
    call: Callable[[Any], Awaitable[Any]],
    in_flight: int,
    *,
    calls: int = 2000,
    check: Callable[[Any], None] | None = None,
    requires: Callable[[Context], str | None] = lambda ctx: None,
) -> Measurement:
    """CPU per call of ``call(client)`` with ``in_flight`` callers; ``make(ctx)`` -> client."""

    def run(ctx: Context) -> Metrics:
        ctx.server.configure()

        async def main() -> Metrics:
            client = make(ctx)
            try:
                first = await call(client)
                if check is not None:
                    check(first)
                before = ctx.server.stats()
                metrics = await C.drive(
                    lambda: call(client), calls=_calls(ctx, calls), in_flight=in_flight
                )
                after = ctx.server.stats()
            finally:
                await client.aclose()
            served = after["requests"] - before["requests"]
            metrics["server_us"] = (after["cpu"] - before["cpu"]) / max(1, served) * 1e6
            return metrics

        return asyncio.run(main())

    return Measurement(key, run, requires)


def _lib(**options: Any) -> Callable[[Context], Any]:
    return lambda ctx: C.session(ctx.server.base_url, rate_limit=C.UNLIMITED_RATE, **options)


def _bare(cls: Callable[..., Any], *args: Any, **options: Any) -> Callable[[Context], Any]:
    return lambda ctx: cls(ctx.server.base_url, *args, **options)


def _check_accounts(accounts: Any) -> None:
    assert len(accounts) == 1 and accounts[0].ok, accounts


def _check_add(result: Any) -> None:
    assert len(result.succeeded) == len(ADD_IDS), result


def _check_add_bare(result: Any) -> None:
    assert len(result) == len(ADD_IDS) and all(r == 1 for r in result.values()), result


async def _bare_add(client: Any) -> dict[str, int]:
    data = await client.call("add_subscriber", ADD_BODY)
    # What a user needs from the answer: each id's Result.
    return {item["Subscriber_Account"]: item["Result"] for item in data["SubscriberList"]}


def _aiohttp_missing(ctx: Context) -> str | None:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return "n/a: aiohttp is not installed"
    return None


def _backend_probe(ctx: Context, backend: str) -> str | None:
    """``n/a: ...`` when a Session cannot be built with ``backend``, else None (cached per run)."""
    key = f"{backend}_backend"
    cached = ctx.cache.get(key)
    if cached is None:

        async def probe() -> str:
            try:
                oa = C.session(ctx.server.base_url, backend=backend)
            except Exception as exc:
                return f"n/a: backend not available ({type(exc).__name__}: {exc})"
            await oa.aclose()
            return ""

        cached = ctx.cache[key] = asyncio.run(probe())
    return cached or None


def _aiohttp_backend_missing(ctx: Context) -> str | None:
    missing = _aiohttp_missing(ctx)
    if missing:
        return missing
    if not C.session_supports("backend"):
        return "n/a: backend not available (Session has no backend= option)"
    return _backend_probe(ctx, "aiohttp")


def _httpx2_missing(ctx: Context) -> str | None:
    try:
        import httpx2  # noqa: F401
    except ImportError:
        return "n/a: httpx2 is not installed (Python 3.11+)"
    return None


def _httpx2_backend_missing(ctx: Context) -> str | None:
    return _httpx2_missing(ctx) or _backend_probe(ctx, "httpx2")


def _bare_httpx2(ctx: Context) -> Any:
    import httpx2

    return C.BareHttpx(ctx.server.base_url, module=httpx2)


def _uvicorn_missing(ctx: Context) -> str | None:
    try:
        import httptools  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        return f"n/a: {exc.name} is not installed"
    return None


IN_FLIGHT = (1, 10, 50)

LIB_CALL = {
    n: _cpu_measurement(
        f"lib.call.{n}", _lib(), lambda oa: oa.call("get_official_account_info", CALL_BODY), n
    )
    for n in IN_FLIGHT
}
LIB_GET = {
    n: _cpu_measurement(
        f"lib.get_accounts.{n}",
        _lib(),
        lambda oa: oa.get_accounts([C.ACCOUNT]),
        n,
        check=_check_accounts,
    )
    for n in IN_FLIGHT
}
BARE_GET = {
    n: _cpu_measurement(
        f"httpx.get_info.{n}",
        _bare(C.BareHttpx),
        lambda c: c.call("get_official_account_info", CALL_BODY),
        n,
    )
    for n in IN_FLIGHT
}
LIB_ADD = _cpu_measurement(
    "lib.add100.10",
    _lib(),
    lambda oa: oa.add_subscribers(C.ACCOUNT, ADD_IDS),
    10,
    calls=600,
    check=_check_add,
)
BARE_ADD = _cpu_measurement(
    "httpx.add100.10", _bare(C.BareHttpx), _bare_add, 10, calls=600, check=_check_add_bare
)
# A Session as constructed with no options at all (the documented 200 calls/s limit included),
# so the row measures the default configuration, not one tuned for the bench.
LIB_DEFAULT_50 = _cpu_measurement(
    "lib.default.get_info.50",
    lambda ctx: C.session(ctx.server.base_url),
    lambda oa: oa.call("get_official_account_info", CALL_BODY),
    50,
    calls=600,
)
# The ways to configure bare httpx for 50 callers, the cheapest one being the baseline: httpx's
# defaults, a pool of 10, and a semaphore of 5, 10 or 16 in front of a pool that size.
HTTPX_SETUPS: list[tuple[str, Callable[[str], Any]]] = [
    ("httpx default", lambda url: C.BareHttpx(url)),
    ("pool 10", lambda url: C.BareHttpx(url, limits=httpx.Limits(max_connections=10))),
    *((f"semaphore {k}", functools.partial(C.LimitedHttpx, limit=k)) for k in (5, 10, 16)),
]
SETUP_KEYS = ["default", "pool10", "sem5", "sem10", "sem16"]


def _get_info(client: Any) -> Awaitable[Any]:
    call: Awaitable[Any] = client.call("get_official_account_info", CALL_BODY)
    return call


def _setup(make: Callable[[str], Any], rate: float | None = None) -> Callable[[Context], Any]:
    def build(ctx: Context) -> Any:
        client = make(ctx.server.base_url)
        return client if rate is None else C.Paced(client, rate)

    return build


# Unpaced: the session with the limiter that never waits (LIB_CALL[50]) against each set-up.
HTTPX_CONFIGS_50 = [
    _cpu_measurement(
        f"httpx.get_info.50.{key}",
        _setup(make),
        _get_info,
        50,
    )
    for key, (_, make) in zip(SETUP_KEYS, HTTPX_SETUPS, strict=True)
]
# Paced like the default session (200 calls/s): like with like.
PACED_CONFIGS_50 = [
    _cpu_measurement(
        f"httpx.get_info.50.{key}.paced",
        _setup(make, 200),
        _get_info,
        50,
        calls=600,
    )
    for key, (_, make) in zip(SETUP_KEYS, HTTPX_SETUPS, strict=True)
]
LIB_AIOHTTP_ADD = _cpu_measurement(
    "lib_aiohttp.add100.10",
    _lib(backend="aiohttp"),
    lambda oa: oa.add_subscribers(C.ACCOUNT, ADD_IDS),
    10,
    calls=600,
    check=_check_add,
    requires=lambda ctx: _aiohttp_backend_missing(ctx),
)
BARE_AIOHTTP_ADD = _cpu_measurement(
    "aiohttp.add100.10",
    _bare(C.BareAiohttp),
    _bare_add,
    10,
    calls=600,
    check=_check_add_bare,
    requires=lambda ctx: _aiohttp_missing(ctx),
)
BARE_HTTPX2 = {
    n: _cpu_measurement(
        f"httpx2.get_info.{n}", _bare_httpx2, _get_info, n, requires=_httpx2_missing
    )
    for n in (10, 50)
}
BARE_AIOHTTP = {
    n: _cpu_measurement(
        f"aiohttp.get_info.{n}",
        _bare(C.BareAiohttp),
        lambda c: c.call("get_official_account_info", CALL_BODY),
        n,
        requires=_aiohttp_missing,
    )
    for n in (10, 50)
}
LIB_AIOHTTP = {
    n: _cpu_measurement(
        f"lib_aiohttp.call.{n}",
        _lib(backend="aiohttp"),
        lambda oa: oa.call("get_official_account_info", CALL_BODY),
        n,
        requires=_aiohttp_backend_missing,
    )
    for n in (10, 50)
}

LIB_HTTPX2_10 = _cpu_measurement(
    "lib_httpx2.call.10",
    _lib(backend="httpx2"),
    lambda oa: oa.call("get_official_account_info", CALL_BODY),
    10,
    requires=_httpx2_backend_missing,
)


def _uvicorn_server(ctx: Context) -> Metrics:
    """Bare httpx at 10 in flight against the uvicorn implementation of the server."""
    with server_process(cpu=ctx.server_cpu, impl="uvicorn") as server:
        inner = Context(server, ctx.quick, ctx.stack, ctx.client_cpu, ctx.server_cpu)
        return BARE_GET[10].run(inner)


UVICORN = Measurement("httpx.get_info.10.uvicorn_server", _uvicorn_server, _uvicorn_missing)


def cpu_ratio(limit: float | None) -> Callable[[list[Series]], Outcome]:
    """Row summary: the first measurement's CPU per call over the second's (``None``: info)."""

    def summarize(medians: list[Series]) -> Outcome:
        lib, base = medians[0], medians[1]
        ratio = paired_ratio(lib, base, "cpu_us")
        return Outcome(
            f"{lib['cpu_us']:.0f} vs {base['cpu_us']:.0f} µs/call",
            ratio,
            None if limit is None else ratio <= limit,
            _server_note(medians),
        )

    return summarize


def _server_note(medians: list[Series]) -> str:
    """Flag a row whose server was not much cheaper than the cheapest client it served."""
    client = min(m["cpu_us"] for m in medians)
    server = max(m.get("server_us", 0.0) for m in medians)
    return "server-bound?" if server > 0.5 * client else ""


def _cheapest(medians: list[Series]) -> Outcome:
    lib, configs = medians[0], medians[1:]
    names = [name for name, _ in HTTPX_SETUPS]
    best = min(range(len(configs)), key=lambda i: configs[i]["cpu_us"])
    ratio = paired_ratio(lib, configs[best], "cpu_us")
    return Outcome(
        f"{lib['cpu_us']:.0f} vs {configs[best]['cpu_us']:.0f} µs/call ({names[best]})",
        ratio,
        ratio <= 1.15,
    )


def _capacity(medians: list[Series]) -> Outcome:
    served, cheapest = medians[0], min(m["cpu_us"] for m in medians)
    server = served["server_us"]
    ratio = server / cheapest
    return Outcome(
        f"{server:.0f} µs/request (~{1e6 / server:,.0f}/s) vs cheapest client {cheapest:.0f} µs",
        ratio,
        ratio <= 0.5,
    )


def _stacks(medians: list[Series]) -> Outcome:
    httpx2, httpx, aiohttp = medians
    ratio = paired_ratio(httpx2, httpx, "cpu_us")
    return Outcome(
        f"httpx2 {httpx2['cpu_us']:.0f} vs httpx {httpx['cpu_us']:.0f} vs aiohttp "
        f"{aiohttp['cpu_us']:.0f} µs/call (aiohttp {paired_ratio(aiohttp, httpx, 'cpu_us'):.2f}x)",
        ratio,
        ratio <= 1.15,
        _server_note(medians),
    )


def _impl(medians: list[Series]) -> Outcome:
    raw, uvi = medians[0]["server_us"], medians[1]["server_us"]
    ratio = paired_ratio(medians[0], medians[1], "server_us")
    return Outcome(f"raw {raw:.0f} vs uvicorn+httptools {uvi:.0f} µs/request", ratio)


def rows() -> list[Row]:
    """The CPU rows, in table order."""
    out: list[Row] = []
    for n in IN_FLIGHT:
        out.append(
            Row(
                f"cpu.call.{n}",
                f"call() CPU/call vs bare httpx, {n} in flight",
                "≤ 1.10x",
                [LIB_CALL[n], BARE_GET[n]],
                cpu_ratio(1.10),
            )
        )
    for n in IN_FLIGHT:
        out.append(
            Row(
                f"cpu.get_accounts.{n}",
                f"get_accounts([1 id]) CPU/call vs bare httpx, {n} in flight",
                "≤ 1.10x",
                [LIB_GET[n], BARE_GET[n]],
                cpu_ratio(1.10),
            )
        )
    out.append(
        Row(
            "cpu.add100.10",
            "add_subscribers(100 ids) CPU/call vs bare httpx, 10 in flight",
            "≤ 1.15x",
            [LIB_ADD, BARE_ADD],
            cpu_ratio(1.15),
        )
    )
    out.append(
        Row(
            "cpu.add100.10.aiohttp",
            "the same default-stack add_subscribers(100 ids) vs bare aiohttp, 10 in flight",
            "(info)",
            [LIB_ADD, BARE_AIOHTTP_ADD],
            cpu_ratio(None),
        )
    )
    out.append(
        Row(
            "cpu.config.50",
            "default Session vs cheapest bare httpx set-up, 50 callers, all paced at 200/s",
            "≤ 1.15x",
            [LIB_DEFAULT_50, *PACED_CONFIGS_50],
            _cheapest,
        )
    )
    out.append(
        Row(
            "cpu.config.50.unpaced",
            "call() (limiter never waits) vs cheapest bare httpx set-up, 50 callers, unpaced",
            "≤ 1.15x",
            [LIB_CALL[50], *HTTPX_CONFIGS_50],
            _cheapest,
        )
    )
    out.append(
        Row(
            "aiohttp.bare.10",
            "bare httpx vs bare aiohttp CPU/call, 10 in flight",
            "(info)",
            [BARE_GET[10], BARE_AIOHTTP[10]],
            lambda ms: Outcome(
                f"{ms[0]['cpu_us']:.0f} vs {ms[1]['cpu_us']:.0f} µs/call",
                paired_ratio(ms[0], ms[1], "cpu_us"),
            ),
        )
    )
    for n in (10, 50):
        out.append(
            Row(
                f"httpx2.bare.{n}",
                f"bare httpx2 (its own pool) vs bare httpx CPU/call, {n} in flight",
                "(info)",
                [BARE_HTTPX2[n], BARE_GET[n]],
                lambda ms: Outcome(
                    f"{ms[0]['cpu_us']:.0f} vs {ms[1]['cpu_us']:.0f} µs/call",
                    paired_ratio(ms[0], ms[1], "cpu_us"),
                ),
            )
        )
    out.append(
        Row(
            "aiohttp.add100.10",
            'Session(backend="aiohttp").add_subscribers(100 ids) vs bare aiohttp, 10 in flight',
            "≤ 1.20x",
            [LIB_AIOHTTP_ADD, BARE_AIOHTTP_ADD],
            cpu_ratio(1.20),
        )
    )
    for n in (10, 50):
        out.append(
            Row(
                f"aiohttp.session.{n}",
                f'Session(backend="aiohttp").call() vs bare aiohttp, {n} in flight',
                "≤ 2.0x",
                [LIB_AIOHTTP[n], BARE_AIOHTTP[n]],
                cpu_ratio(2.0),
            )
        )
    out.append(
        Row(
            "httpx2.session.10",
            'Session(backend="httpx2") vs "httpx" (and "aiohttp") call() CPU, 10 in flight',
            "≤ 1.15x",
            [LIB_HTTPX2_10, LIB_CALL[10], LIB_AIOHTTP[10]],
            _stacks,
        )
    )
    out.append(
        Row(
            "server.capacity",
            "bench server CPU/request vs the cheapest client's CPU/call",
            "≤ 0.50x",
            [BARE_GET[10], *BARE_GET.values()],
            _capacity,
        )
    )
    out.append(
        Row(
            "server.impl",
            "server CPU/request: raw asyncio protocol vs uvicorn+httptools",
            "(info)",
            [BARE_GET[10], UVICORN],
            _impl,
        )
    )
    return out
