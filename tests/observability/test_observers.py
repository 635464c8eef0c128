"""Observer hooks: the events of calls, attempts, retries, limiter waits, bulk jobs and webhooks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa import _otel, webhooks

from ..conftest import fail, ok
from ..webhooks.samples import NOW, SDKAPPID, TOKEN, request_for
from .helpers import SECRET_SIG, SVC, Recorder, add_answer, kinds, o, of

INFO = SVC + "get_official_account_info"


async def test_a_successful_call_reports_call_and_attempt_events(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(return_value=ok(OfficialAccountInfo={"Official_Account": "news"}))
    rec = Recorder()
    oa = make_session(observers=[rec], usersig=SECRET_SIG)
    await oa.call("get_official_account_info", {"Official_Account": "news"})

    assert kinds(rec) == ["CallStarted", "AttemptStarted", "AttemptFinished", "CallFinished"]
    started = of(rec, o.AttemptStarted)[0]
    assert (started.command, started.attempt) == ("get_official_account_info", 1)
    assert (started.scheme, started.server_address, started.path) == ("https", "api.test", INFO)
    finished = of(rec, o.AttemptFinished)[0]
    assert (finished.error_type, finished.http_status, finished.duration >= 0) == (None, 200, True)
    call = of(rec, o.CallFinished)[0]
    assert (call.attempts, call.error_type, call.error_code) == (1, None, None)
    assert call.state is rec.events[0].state  # one state dict per call, for start/finish pairs
    assert SECRET_SIG not in repr(rec.events)


async def test_retries_and_the_final_error_are_reported(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(side_effect=[fail(20005, "busy"), fail(20005, "busy"), fail(80001)])
    rec = Recorder()
    oa = make_session(observers=[rec], max_retries=3)
    with pytest.raises(tim_oa.ApiError):
        await oa.call("get_official_account_info", {"Official_Account": "news"})

    retries = of(rec, o.RetryScheduled)
    assert [(r.attempt, r.retry, r.error_code) for r in retries] == [(1, 1, 20005), (2, 2, 20005)]
    assert all(r.reason == "ServerError" for r in retries)
    attempts = of(rec, o.AttemptFinished)
    assert [a.error_code for a in attempts] == [20005, 20005, 80001]
    final = of(rec, o.CallFinished)[0]
    assert (final.attempts, final.error_code) == (3, 80001)
    assert final.error_type == "ApiError"


async def test_a_transport_failure_and_a_cancelled_call_still_finish_their_events(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(side_effect=httpx.ConnectError("refused"))
    rec = Recorder()
    oa = make_session(observers=[rec], max_retries=0)
    with pytest.raises(tim_oa.TransportError):
        await oa.call("get_official_account_info", {"Official_Account": "news"})
    assert kinds(rec)[-2:] == ["AttemptFinished", "CallFinished"]
    assert of(rec, o.AttemptFinished)[0].error_type == "TransportError"


async def test_limiter_waits_are_reported(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(return_value=ok())
    rec = Recorder()
    oa = make_session(observers=[rec], rate_limit=1000.0)
    await oa.call("get_official_account_info", {"Official_Account": "news"})
    (wait,) = of(rec, o.LimiterWaited)
    assert (wait.command, wait.kind, wait.waited >= 0) == (
        "get_official_account_info",
        "call",
        True,
    )


async def test_a_bulk_job_reports_its_chunks_and_outcomes(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(SVC + "add_subscriber").mock(side_effect=add_answer)
    rec = Recorder()
    oa = make_session(observers=[rec])
    ids = [f"u{i}" for i in range(150)] + ["old1", "old2"]
    result = await oa.add_subscribers("@TOA#_news", ids, concurrency=1)
    assert len(result.succeeded) == 150

    (started,) = of(rec, o.BulkStarted)
    assert (started.command, started.total, started.chunks) == ("add_subscriber", 152, 2)
    chunks = of(rec, o.ChunkFinished)
    assert [(c.position, c.size, c.succeeded, c.unchanged, c.failed) for c in chunks] == [
        (0, 100, 100, 0, 0),
        (1, 52, 50, 2, 0),
    ]
    (done,) = of(rec, o.BulkFinished)
    assert (done.succeeded, done.unchanged, done.failed, done.error_type) == (150, 2, 0, None)
    assert len(of(rec, o.CallFinished)) == 2  # each chunk is one call, nested in its chunk
    assert kinds(rec)[:3] == ["BulkStarted", "ChunkStarted", "CallStarted"]


async def test_a_failing_observer_is_logged_once_and_never_breaks_a_call(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(tim_oa.Observer):
        def call_started(self, event: o.CallStarted) -> None:
            raise RuntimeError("observer bug")

    api.post(INFO).mock(return_value=ok())
    oa = make_session(observers=[Broken(), rec := Recorder()])
    with caplog.at_level(logging.ERROR, logger="tim_oa"):
        await oa.call("get_official_account_info", {"Official_Account": "news"})
        await oa.call("get_official_account_info", {"Official_Account": "news"})
    assert [r.message for r in caplog.records].count(
        "observer Broken.call_started raised; ignored"
    ) == 1
    assert kinds(rec).count("CallFinished") == 2


async def test_with_options_replaces_the_observers(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(return_value=ok())
    first, second = Recorder(), Recorder()
    oa = make_session(observers=[first])
    derived = oa.with_options(observers=[second])
    await derived.call("get_official_account_info", {"Official_Account": "news"})
    assert first.events == [] and len(second.events) == 4
    await oa.with_options(max_retries=1).call("get_official_account_info", {})
    assert len(first.events) == 4  # kept when not given


@pytest.mark.parametrize("bad", ["x", [object()], tim_oa.Observer(), 3])
def test_observers_must_be_a_list_of_observers(bad: Any) -> None:
    with pytest.raises(TypeError, match="observers"):
        tim_oa.Session(1400000000, "admin", "sig", base_url="https://api.test", observers=bad)


def test_without_observers_or_opentelemetry_a_session_has_no_hub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_otel, "_instance", None)  # as if opentelemetry were not installed
    oa = tim_oa.Session(1400000000, "admin", "sig", base_url="https://api.test")
    assert oa._hub is None


# --- webhooks ------------------------------------------------------------------------------------


def router(rec: Recorder) -> webhooks.WebhookRouter:
    return webhooks.WebhookRouter(SDKAPPID, TOKEN, clock=lambda: NOW, observers=[rec])


async def test_webhook_callbacks_report_receipt_and_answer() -> None:
    rec = Recorder()
    hooks = router(rec)

    @hooks.on(webhooks.BeforeCreateAccount)
    async def refuse(event: webhooks.BeforeCreateAccount) -> webhooks.Refuse:
        return webhooks.Refuse(120050, "no")

    await hooks.handle(*request_for(webhooks.BeforeCreateAccount))
    await hooks.handle(*request_for(webhooks.AfterCreateAccount))
    received, answered = of(rec, o.WebhookReceived), of(rec, o.WebhookAnswered)
    assert [r.event_type for r in received] == ["BeforeCreateAccount", "AfterCreateAccount"]
    assert [(a.answer, a.outcome) for a in answered] == [
        ("Refuse", "handler"),
        ("Allow", "no_handler"),
    ]
    assert answered[0].state is received[0].state


async def test_a_rejected_callback_and_a_slow_handler_are_reported() -> None:
    rec = Recorder()
    hooks = webhooks.WebhookRouter(
        SDKAPPID, TOKEN, clock=lambda: NOW, observers=[rec], deadline=0.01
    )

    @hooks.on(webhooks.BeforeCreateAccount)
    async def slow(event: webhooks.BeforeCreateAccount) -> None:
        import anyio

        await anyio.sleep(5)

    query, body = request_for(webhooks.BeforeCreateAccount)
    with pytest.raises(webhooks.WebhookError):
        await hooks.handle({**query, "Sign": "0" * 64}, body)
    await hooks.handle(query, body)
    answered = of(rec, o.WebhookAnswered)
    assert [(a.answer, a.outcome) for a in answered] == [
        ("rejected", "signature"),
        ("Refuse", "deadline"),  # a "before" callback: on_timeout="refuse" by default
    ]


async def test_an_attempt_cut_short_by_a_cancellation_is_finished_too(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With observers but no OpenTelemetry, a cancelled attempt still gets its finished event."""
    import anyio

    monkeypatch.setattr(_otel, "_instance", None)
    started = anyio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await anyio.sleep(30)
        return ok()

    api.post(INFO).mock(side_effect=hang)
    rec = Recorder()
    oa = make_session(observers=[rec])
    async with anyio.create_task_group() as tg:
        tg.start_soon(oa.call, "get_official_account_info", {})
        await started.wait()
        tg.cancel_scope.cancel()
    assert kinds(rec) == ["CallStarted", "AttemptStarted", "AttemptFinished", "CallFinished"]
    assert of(rec, o.AttemptFinished)[0].error_type == "CancelledError"
    assert of(rec, o.CallFinished)[0].error_type == "CancelledError"


async def test_an_api_error_came_with_http_200(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    api.post(INFO).mock(return_value=fail(80001))
    rec = Recorder()
    with pytest.raises(tim_oa.ApiError):
        await make_session(observers=[rec]).call("get_official_account_info", {})
    assert of(rec, o.AttemptFinished)[0].http_status == 200


def test_the_hooks_keep_import_tim_oa_session_light() -> None:
    """test_imports.py runs the installed tim_oa; this runs this tree's (no attrs, no OTel)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys, tim_oa\ntim_oa.Session\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("TIM_OA_LOG", None)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    modules = set(json.loads(out))
    assert "tim_oa._observe" in modules
    assert not [m for m in modules if m == "attr" or m.startswith("opentelemetry")]
