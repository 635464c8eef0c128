"""OpenTelemetry: no UserSig reaches anyone's spans, and the library's own spans and metrics.

The leak test runs the real ``HTTPXClientInstrumentor`` (what ``opentelemetry-instrument`` turns
on for any app using httpx) with the SDK's in-memory exporter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import respx

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import tim_oa
from tim_oa import _observe, _otel, webhooks

from ..conftest import fail, ok
from ..webhooks.samples import NOW, SDKAPPID, TOKEN, request_for
from .helpers import SECRET_SIG, SVC, add_answer

INFO = SVC + "get_official_account_info"
ACCOUNT = "@TOA#_news"


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for m in scope.metrics
            if m.name == metric
            for point in m.data.data_points
        ]


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    """tim_oa's spans and metrics go to in-memory SDK providers (sessions made after this)."""
    t = Telemetry()
    monkeypatch.setattr(_otel, "_instance", _otel.OTel(t.tracer_provider, t.meter_provider))
    return t


@pytest.fixture
def httpx_instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
    """The real httpx instrumentation, recording into the same provider."""
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()


def every_value(span: ReadableSpan) -> list[str]:
    values = [span.name, *map(str, (span.attributes or {}).values())]
    for event in span.events:
        values += [event.name, *map(str, (event.attributes or {}).values())]
    return values


async def test_without_suppression_httpx_instrumentation_records_the_usersig(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    httpx_instrumented: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What every team tracing its HTTP clients shipped before: the signed URL, UserSig included."""
    monkeypatch.setattr(_otel.OTel, "suppress", lambda self: None)  # the library before the fix
    api.post(INFO).mock(return_value=ok())
    await make_session(usersig=SECRET_SIG).call("get_official_account_info", {})
    leaked = [s for s in httpx_instrumented.spans() if any(SECRET_SIG in v for v in every_value(s))]
    assert leaked and leaked[0].kind is SpanKind.CLIENT
    assert leaked[0].instrumentation_scope.name.startswith("opentelemetry.instrumentation.httpx")  # type: ignore[union-attr]


async def test_with_httpx_instrumentation_no_span_holds_the_usersig(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    httpx_instrumented: Telemetry,
) -> None:
    api.post(INFO).mock(side_effect=[fail(20005), ok()])
    await make_session(usersig=SECRET_SIG).call("get_official_account_info", {})
    spans = httpx_instrumented.spans()
    assert spans
    assert not [v for s in spans for v in every_value(s) if SECRET_SIG in v or "usersig=eJ" in v]
    # httpx recorded nothing
    assert {s.instrumentation_scope.name for s in spans} == {"tim_oa"}  # type: ignore[union-attr]
    attempts = httpx_instrumented.named("POST get_official_account_info")
    assert (
        [a.attributes["url.full"] for a in attempts]  # type: ignore[index]
        == [
            "https://api.test" + INFO + "?sdkappid=REDACTED&identifier=REDACTED&usersig=REDACTED"
            "&random=REDACTED&contenttype=json"
        ]
        * 2
    )


async def test_suppression_holds_even_when_tim_oa_itself_traces_nothing(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An app that instruments httpx with its own provider but sets no global one."""
    t = Telemetry()
    monkeypatch.setattr(_otel, "_instance", _otel.OTel())  # global providers: none set
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=t.tracer_provider)
    try:
        api.post(INFO).mock(return_value=ok())
        await make_session(usersig=SECRET_SIG).call("get_official_account_info", {})
        async with __import__("httpx").AsyncClient() as other:  # the app's own requests still are
            api.get("/elsewhere").mock(return_value=ok())
            await other.get("https://api.test/elsewhere")
    finally:
        instrumentor.uninstrument()
    assert [s.attributes.get("http.url", s.attributes.get("url.full")) for s in t.spans()] == [  # type: ignore[union-attr]
        "https://api.test/elsewhere"
    ]


async def test_a_call_has_one_span_and_a_child_span_per_attempt(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], telemetry: Telemetry
) -> None:
    api.post(INFO).mock(side_effect=[fail(20005, "busy"), ok()])
    await make_session().call("get_official_account_info", {})

    (call,) = telemetry.named("get_official_account_info")
    first, second = telemetry.named("POST get_official_account_info")
    assert call.kind is SpanKind.INTERNAL and first.kind is SpanKind.CLIENT
    assert first.parent is not None and first.parent.span_id == call.context.span_id
    assert second.parent is not None and second.parent.span_id == call.context.span_id
    assert call.attributes["tim_oa.attempts"] == 2  # type: ignore[index]
    assert call.status.status_code is StatusCode.UNSET
    assert (
        dict(first.attributes or {}).items()
        >= {
            "http.request.method": "POST",
            "server.address": "api.test",
            "tim_oa.attempt": 1,
            "error.type": "ServerError",
            "tim_oa.error_code": 20005,
        }.items()
    )
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["tim_oa.retry.reason"] == "ServerError"  # type: ignore[index]
    assert second.attributes["tim_oa.retry.wait"] == 0.0  # type: ignore[index]
    assert second.attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert [e.name for e in call.events] == ["retry"]


async def test_call_metrics_count_calls_errors_and_retries(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], telemetry: Telemetry
) -> None:
    api.post(INFO).mock(side_effect=[fail(20005), ok(), fail(80001)])
    oa = make_session(rate_limit=1000.0)
    await oa.call("get_official_account_info", {})
    with pytest.raises(tim_oa.ApiError):
        await oa.call("get_official_account_info", {})

    calls = {
        (p.attributes.get("error.type"), p.attributes.get("tim_oa.error_code")): p.value
        for p in telemetry.points("tim_oa.client.calls")
    }
    assert calls == {(None, None): 1, ("ApiError", 80001): 1}
    (retries,) = telemetry.points("tim_oa.client.retries")
    assert (retries.value, retries.attributes["tim_oa.retry.reason"]) == (1, "ServerError")
    (in_flight,) = telemetry.points("tim_oa.client.requests.in_flight")
    assert in_flight.value == 0
    (waits,) = telemetry.points("tim_oa.client.limiter.wait")
    assert waits.count == 3
    assert sum(p.count for p in telemetry.points("http.client.request.duration")) == 3


async def test_a_bulk_job_has_chunk_spans_and_counts_ids_by_outcome(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session], telemetry: Telemetry
) -> None:
    api.post(SVC + "add_subscriber").mock(side_effect=add_answer)
    ids = [f"u{i}" for i in range(120)] + ["old1"]
    await make_session().add_subscribers(ACCOUNT, ids, concurrency=2)

    (bulk,) = telemetry.named("bulk add_subscriber")
    chunks = telemetry.named("chunk add_subscriber")
    calls = telemetry.named("add_subscriber")
    assert len(chunks) == len(calls) == 2
    assert {c.parent.span_id for c in chunks} == {bulk.context.span_id}  # type: ignore[union-attr]
    assert {c.parent.span_id for c in calls} == {c.context.span_id for c in chunks}  # type: ignore[union-attr]
    assert {
        k: bulk.attributes[k]  # type: ignore[index]
        for k in ("tim_oa.bulk.succeeded", "tim_oa.bulk.unchanged")
    } == {"tim_oa.bulk.succeeded": 120, "tim_oa.bulk.unchanged": 1}
    ids_by_outcome = {
        p.attributes["tim_oa.bulk.outcome"]: p.value for p in telemetry.points("tim_oa.bulk.ids")
    }
    assert ids_by_outcome == {"succeeded": 120, "unchanged": 1}


async def test_webhook_handling_has_a_span_and_callbacks_are_counted(
    telemetry: Telemetry,
) -> None:
    router = webhooks.WebhookRouter(SDKAPPID, TOKEN, clock=lambda: NOW)

    @router.on(webhooks.BeforeCreateAccount)
    async def refuse(event: webhooks.BeforeCreateAccount) -> webhooks.Refuse:
        return webhooks.Refuse(120050, "no")

    await router.handle(*request_for(webhooks.BeforeCreateAccount))
    (span,) = telemetry.spans()
    assert span.name.startswith("webhook ")
    assert span.attributes["tim_oa.webhook.answer"] == "Refuse"  # type: ignore[index]
    (count,) = telemetry.points("tim_oa.webhook.callbacks")
    assert (count.value, count.attributes["tim_oa.webhook.outcome"]) == (1, "handler")


def test_no_provider_means_no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed without an SDK (no provider set): calls get the no-op tracker's cheap path."""
    otel = _otel.OTel()
    monkeypatch.setattr(_otel, "_instance", otel)
    oa = tim_oa.Session(1400000000, "admin", "sig", base_url="https://api.test")
    assert oa._hub is not None and not oa._hub.active()


async def test_over_a_real_socket_instrumented_httpx_still_sees_no_usersig() -> None:
    """No respx here: the instrumentation's own patch of httpx sends the session's requests
    through httpx (not our own connections), where the suppression keeps the UserSig out; once it
    is removed, our own connections serve and nothing needs suppressing."""
    from .. import http_scenarios as hs

    t = Telemetry()
    server = hs.Server()
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=t.tracer_provider)
    try:
        async with tim_oa.Session(
            sdkappid=SDKAPPID,
            identifier="administrator",
            usersig=SECRET_SIG,
            base_url=server.url,
            rate_limit=None,
        ) as oa:
            transport = oa._shared.transport
            await oa.call("get_official_account_info", {})
            assert not transport.unseen()  # httpx is patched: it carries the request
            instrumentor.uninstrument()
            await oa.call("get_official_account_info", {})
            assert transport.unseen()  # our own connections: no generic instrumentation there
            assert oa._hub is None or oa._hub.call("x", "/x", True) is _observe.NO_CALL
    finally:
        instrumentor.uninstrument()
        server.close()
    assert len(server.requests) == 2
    assert SECRET_SIG not in str([v for s in t.spans() for v in every_value(s)])
    assert [s.name for s in t.spans() if s.instrumentation_scope.name != "tim_oa"] == []  # type: ignore[union-attr]
