"""OpenTelemetry tracing and metrics, built on the observer hooks (``pip install "tim-oa[otel]"``).

Only ``opentelemetry-api`` is needed; the app sets up the SDK (providers, exporters). When the
API is not importable, :func:`get` returns None and the library pays nothing. When it is, every
attempt runs with OpenTelemetry's "suppress HTTP instrumentation" context key set, so generic
httpx/aiohttp instrumentation records nothing for our requests (their URL carries the UserSig);
our own attempt span carries ``url.full`` with every query value ``REDACTED``. Spans and metrics
are made only while a tracer or meter provider is set (globally, or given to :class:`OTel`).

Spans: ``<command>`` (INTERNAL, one per call) > ``POST <command>`` (CLIENT, one per attempt);
bulk jobs: ``bulk <command>`` > ``chunk <command>`` > the chunk's call; webhooks:
``webhook <command>``. Metrics: see ``docs/guide/tracing.md``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ._observer import (
    AttemptFinished,
    AttemptStarted,
    BulkFinished,
    BulkStarted,
    CallFinished,
    CallStarted,
    ChunkFinished,
    ChunkStarted,
    LimiterWaited,
    Observer,
    RetryScheduled,
    WebhookAnswered,
    WebhookReceived,
)
from ._version import __version__

SCOPE = "tim_oa"
_REDACTED_QUERY = (
    "?sdkappid=REDACTED&identifier=REDACTED&usersig=REDACTED&random=REDACTED&contenttype=json"
)
_ATTEMPT = "attempt"
_RETRY = "retry"

_UNSET: Any = object()
_instance: Any = _UNSET


def get() -> OTel | None:
    """The process's OpenTelemetry bridge, or None when ``opentelemetry`` is not importable."""
    global _instance
    if _instance is _UNSET:
        try:
            importlib.import_module("opentelemetry.trace")
            importlib.import_module("opentelemetry.metrics")
            importlib.import_module("opentelemetry.context")
        except ImportError:
            _instance = None
        else:
            _instance = OTel()
    return _instance  # type: ignore[no-any-return]


class OTel:
    """The tracer, the meter and the instruments; ``enabled()`` while a provider is set.

    ``tracer_provider``/``meter_provider``: use these instead of the global ones (tests).
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, trace

        # The key generic HTTP instrumentations check; a plain string before it moved here.
        key = getattr(
            context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", "suppress_http_instrumentation"
        )
        from opentelemetry.metrics import _internal as metrics_internal
        from opentelemetry.metrics._internal import _ProxyMeterProvider

        self._explicit = tracer_provider is not None or meter_provider is not None
        self._trace = trace
        self._metrics = metrics
        self._proxy_types = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self._proxy_meter_types = (_ProxyMeterProvider, metrics.NoOpMeterProvider)
        self._attach: Callable[[Any], Any] = context.attach
        self._detach: Callable[[Any], None] = context.detach
        self._set_value = context.set_value
        self._get_current: Callable[[], Any] = context.get_current
        # With the default runtime context (a ContextVar), suppress() uses the variable itself:
        # what attach/detach/get_current do, without three layers of calls per attempt.
        runtime = getattr(context, "_RUNTIME_CONTEXT", None)
        var = getattr(runtime, "_current_context", None)
        if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(var, ContextVar):
            self._get_current = var.get
            self._attach = var.set
            self._detach = var.reset
        self._last: tuple[Any, Any] = (None, None)
        self._on = False
        self._metrics_internal = metrics_internal
        # The globals get_tracer_provider()/get_meter_provider() read; when a variable names
        # a provider class, those functions must run once to load it.
        self._fast = (
            hasattr(trace, "_TRACER_PROVIDER")
            and hasattr(metrics_internal, "_METER_PROVIDER")
            and "OTEL_PYTHON_TRACER_PROVIDER" not in os.environ
            and "OTEL_PYTHON_METER_PROVIDER" not in os.environ
        )
        self._key = key
        tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.observer = OTelObserver(tracer, meter)

    def enabled(self) -> bool:
        """Whether spans or metrics would go anywhere now (once true, it stays true)."""
        if self._on:
            return True
        if self._explicit:
            self._on = True
        elif self._fast:  # the API's own globals: two attribute reads, no environment lookups
            self._on = (
                self._trace._TRACER_PROVIDER is not None
                or self._metrics_internal._METER_PROVIDER is not None
            )
        else:
            self._on = not isinstance(
                self._trace.get_tracer_provider(), self._proxy_types
            ) or not isinstance(self._metrics.get_meter_provider(), self._proxy_meter_types)
        return self._on

    def suppress(self) -> object:
        """Turn generic HTTP instrumentation off for this task; returns the token to undo it."""
        current = self._get_current()
        last = self._last  # (a context, it with the key set): one read, safe across threads
        if last[0] is not current:  # most calls start from the same (often empty) context
            last = self._last = (current, self._set_value(self._key, True, current))
        return self._attach(last[1])

    def unsuppress(self, token: object) -> None:
        """Undo :meth:`suppress`."""
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager per attempt
            self._detach(token)
        except (ValueError, RuntimeError):  # made in another context, or reset already: no harm
            pass


def _error_attributes(attributes: dict[str, Any], error_type: str | None, code: int | None) -> None:
    if error_type is not None:
        attributes["error.type"] = error_type
    if code is not None:
        attributes["tim_oa.error_code"] = code


class OTelObserver(Observer):
    """Turns tim_oa's events into spans and metrics (made by :class:`OTel`)."""

    def __init__(self, tracer: Any, meter: Any) -> None:
        from opentelemetry import context, trace

        self._tracer = tracer
        self._trace = trace
        self._attach = context.attach
        self._detach = context.detach
        self._internal = trace.SpanKind.INTERNAL
        self._client = trace.SpanKind.CLIENT
        self._error = trace.StatusCode.ERROR
        self.calls = meter.create_counter(
            "tim_oa.client.calls", unit="{call}", description="Calls by command and result"
        )
        self.call_duration = meter.create_histogram(
            "tim_oa.client.call.duration", unit="s", description="Calls, retries included"
        )
        self.request_duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="One HTTP attempt"
        )
        self.retries = meter.create_counter(
            "tim_oa.client.retries", unit="{retry}", description="Retries by command and reason"
        )
        self.limiter_wait = meter.create_histogram(
            "tim_oa.client.limiter.wait", unit="s", description="Time held by the limiter"
        )
        self.in_flight = meter.create_up_down_counter(
            "tim_oa.client.requests.in_flight", unit="{request}", description="Requests on the wire"
        )
        self.bulk_ids = meter.create_counter(
            "tim_oa.bulk.ids", unit="{id}", description="Ids of bulk jobs by outcome"
        )
        self.webhooks = meter.create_counter(
            "tim_oa.webhook.callbacks", unit="{callback}", description="Callbacks by answer"
        )
        self.webhook_duration = meter.create_histogram(
            "tim_oa.webhook.duration", unit="s", description="Callback handling time"
        )

    # --- spans that become the current context until they end ---------------------------------

    def _open(self, state: dict[Any, Any], name: str, attributes: dict[str, Any]) -> None:
        span = self._tracer.start_span(name, kind=self._internal, attributes=attributes)
        token = self._attach(self._trace.set_span_in_context(span))
        state[self] = (span, token)

    def _close(
        self,
        state: dict[Any, Any],
        attributes: dict[str, Any],
        error_type: str | None,
    ) -> None:
        opened = state.pop(self, None)
        if opened is None:
            return
        span, token = opened
        if span.is_recording():
            span.set_attributes(attributes)
            if error_type is not None:
                span.set_status(self._error, error_type)
        span.end()
        self._detach(token)

    # --- calls and attempts ---------------------------------------------------------------------

    def call_started(self, event: CallStarted) -> None:
        """Open the call's span."""
        self._open(
            event.state,
            event.command,
            {"tim_oa.command": event.command, "rpc.method": event.command},
        )

    def call_finished(self, event: CallFinished) -> None:
        """Close the call's span; count the call."""
        attributes: dict[str, Any] = {"tim_oa.command": event.command}
        _error_attributes(attributes, event.error_type, event.error_code)
        self.calls.add(1, attributes)
        self.call_duration.record(event.duration, attributes)
        attributes["tim_oa.attempts"] = event.attempts
        self._close(event.state, attributes, event.error_type)

    def attempt_started(self, event: AttemptStarted) -> None:
        """Open the attempt's CLIENT span (child of the call's), with the URL redacted."""
        port = f":{event.server_port}" if event.server_port is not None else ""
        attributes: dict[str, Any] = {
            "http.request.method": "POST",
            "server.address": event.server_address,
            "url.full": f"{event.scheme}://{event.server_address}{port}{event.path}"
            + _REDACTED_QUERY,
            "tim_oa.command": event.command,
            "tim_oa.attempt": event.attempt,
        }
        if event.server_port is not None:
            attributes["server.port"] = event.server_port
        retry = event.state.pop((self, _RETRY), None)
        if retry is not None:
            attributes["tim_oa.retry.reason"], attributes["tim_oa.retry.wait"] = retry
        span = self._tracer.start_span(
            f"POST {event.command}", kind=self._client, attributes=attributes
        )
        event.state[(self, _ATTEMPT)] = span
        self.in_flight.add(1, {"tim_oa.command": event.command})

    def attempt_finished(self, event: AttemptFinished) -> None:
        """Close the attempt's span; record its duration."""
        self.in_flight.add(-1, {"tim_oa.command": event.command})
        attributes: dict[str, Any] = {"http.request.method": "POST"}
        if event.http_status is not None:
            attributes["http.response.status_code"] = event.http_status
        _error_attributes(attributes, event.error_type, event.error_code)
        self.request_duration.record(event.duration, attributes)
        span = event.state.pop((self, _ATTEMPT), None)
        if span is None:
            return
        if span.is_recording():
            span.set_attributes(attributes)
            if event.error_type is not None:
                span.set_status(self._error, event.error_type)
        span.end()

    def retry_scheduled(self, event: RetryScheduled) -> None:
        """Count the retry; the next attempt's span carries its reason and wait."""
        attributes: dict[str, Any] = {
            "tim_oa.command": event.command,
            "tim_oa.retry.reason": event.reason,
        }
        if event.error_code is not None:
            attributes["tim_oa.error_code"] = event.error_code
        self.retries.add(1, attributes)
        event.state[(self, _RETRY)] = (event.reason, event.delay)
        span = self._trace.get_current_span()
        if span.is_recording():
            span.add_event(
                "retry",
                {
                    "tim_oa.attempt": event.attempt,
                    "tim_oa.retry": event.retry,
                    "tim_oa.retry.wait": event.delay,
                    "tim_oa.retry.reason": event.reason,
                },
            )

    def limiter_waited(self, event: LimiterWaited) -> None:
        """Record the wait."""
        self.limiter_wait.record(
            event.waited, {"tim_oa.command": event.command, "tim_oa.limiter.kind": event.kind}
        )

    # --- bulk jobs --------------------------------------------------------------------------

    def bulk_started(self, event: BulkStarted) -> None:
        """Open the job's span."""
        self._open(
            event.state,
            f"bulk {event.command}",
            {
                "tim_oa.command": event.command,
                "tim_oa.bulk.total": event.total,
                "tim_oa.bulk.chunks": event.chunks,
            },
        )

    def chunk_started(self, event: ChunkStarted) -> None:
        """Open the chunk's span (under the job's)."""
        self._open(
            event.state,
            f"chunk {event.command}",
            {
                "tim_oa.command": event.command,
                "tim_oa.chunk.index": event.position,
                "tim_oa.chunk.size": event.size,
            },
        )

    def chunk_finished(self, event: ChunkFinished) -> None:
        """Close the chunk's span with its outcome counts."""
        attributes: dict[str, Any] = {
            "tim_oa.bulk.succeeded": event.succeeded,
            "tim_oa.bulk.unchanged": event.unchanged,
            "tim_oa.bulk.failed": event.failed,
        }
        _error_attributes(attributes, event.error_type, event.error_code)
        self._close(event.state, attributes, event.error_type)

    def bulk_finished(self, event: BulkFinished) -> None:
        """Close the job's span; count its ids by outcome."""
        for outcome, count in (
            ("succeeded", event.succeeded),
            ("unchanged", event.unchanged),
            ("failed", event.failed),
        ):
            if count:
                self.bulk_ids.add(
                    count, {"tim_oa.command": event.command, "tim_oa.bulk.outcome": outcome}
                )
        attributes: dict[str, Any] = {
            "tim_oa.bulk.succeeded": event.succeeded,
            "tim_oa.bulk.unchanged": event.unchanged,
            "tim_oa.bulk.failed": event.failed,
        }
        _error_attributes(attributes, event.error_type, None)
        self._close(event.state, attributes, event.error_type)

    # --- webhooks ---------------------------------------------------------------------------

    def webhook_received(self, event: WebhookReceived) -> None:
        """Open the callback's span."""
        self._open(
            event.state,
            f"webhook {event.command}",
            {"tim_oa.webhook.command": event.command, "tim_oa.webhook.event": event.event_type},
        )

    def webhook_answered(self, event: WebhookAnswered) -> None:
        """Close the callback's span; count the callback by answer."""
        attributes: dict[str, Any] = {
            "tim_oa.webhook.command": event.command,
            "tim_oa.webhook.answer": event.answer,
            "tim_oa.webhook.outcome": event.outcome,
        }
        self.webhooks.add(1, attributes)
        self.webhook_duration.record(event.duration, attributes)
        failed = event.outcome in ("deadline", "error", "bad_answer")
        self._close(event.state, attributes, event.outcome if failed else None)
