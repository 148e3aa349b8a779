"""OpenTelemetry tracing: one trace per payment's journey, across the web tier, the worker and
the gateways.

An API request's span is the parent of the Celery tasks it queues (the task's headers carry the
trace), which are the parents of the gateways' HTTP calls; a callback's request is the parent
of the drain that applies it. Every log line written inside a span carries its trace id
(`core.logging.ContextFilter`), so a trace found in the tracing backend leads to its lines and
a line to its trace.

Off by default, and then free: nothing of OpenTelemetry is imported unless an OTLP endpoint is
configured (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, read by the
exporter as OpenTelemetry defines them; OTEL_SERVICE_NAME names the process, `payment-service`
by default). `bench/tracing.py` measures what a request costs with it off and on.

Spans carry what the instrumentations record: the route and status of a request, a task's name,
a gateway call's method, URL and status. Never a body: card data is only ever in bodies.
"""

from collections.abc import Sequence
from typing import Any

# Health checks and scrapes every few seconds would be most of the traces.
UNTRACED_PATHS = ("healthz", "readyz", "metrics")
DEFAULT_SERVICE_NAME = "payment-service"


def tracing_start(*, service_name: str, exporter: Any | None = None) -> None:
    """Trace this process: a provider exporting over OTLP/HTTP in batches (or to `exporter`),
    and the Django, Celery and requests instrumentations. Called once, as the apps load
    (core/apps.py). The batch processor's thread is started again in each process gunicorn or
    Celery's pool forks (the SDK registers for it)."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(excluded_urls=",".join(UNTRACED_PATHS))
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    RequestsInstrumentor().instrument()


def current_trace_ids() -> Sequence[str] | None:
    """(trace id, span id) of the span this code runs in, as hex; None outside one, and always
    None while tracing is off (OpenTelemetry not loaded: nothing is imported to ask)."""
    import sys

    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
