"""One client of the ``obs.*`` rows, in a process of its own: ``python -m bench._obs_client``.

Arguments: ``MODE BASE_URL CALLS IN_FLIGHT``. Modes:

- ``off``: ``opentelemetry`` cannot be imported (blocked before tim_oa loads), no observers: the
  cost of the hooks for a user without OpenTelemetry;
- ``nosdk``: the OpenTelemetry API importable, no provider set (an app with an instrumented
  dependency but no SDK): tim_oa suppresses HTTP instrumentation and traces nothing;
- ``sdk``: the SDK's tracer and meter providers set, spans to an in-memory exporter, metrics to
  an in-memory reader;
- ``today``: tim_oa as it was before the hooks (the caller puts that tree first on the path).

Prints one JSON line: CPU and wall time per call of ``Session.call("get_official_account_info")``.
"""

from __future__ import annotations

import asyncio
import json
import sys


def main() -> None:
    mode, base_url, calls, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "off":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]  # import fails
    if mode == "sdk":
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))

    from . import _clients as C

    body = C.get_info_body()

    async def run() -> dict[str, float]:
        oa = C.session(base_url, rate_limit=C.UNLIMITED_RATE)
        try:
            await oa.call("get_official_account_info", body)
            return await C.drive(
                lambda: oa.call("get_official_account_info", body),
                calls=calls,
                in_flight=in_flight,
            )
        finally:
            await oa.aclose()

    metrics_out = asyncio.run(run())
    if mode == "off":
        assert "opentelemetry.trace" not in sys.modules
    print(json.dumps(metrics_out))


if __name__ == "__main__":
    main()
