"""Tracing (core/tracing.py) off by default and then free: a request loads nothing of
OpenTelemetry. On, a log line written inside a span carries its trace and span ids. The
journeys across processes are in tests/integration/test_tracing.py."""

import io
import json
import logging
import subprocess

from core.logging import ContextFilter, JsonFormatter
from tests.processes import PYTHON, ROOT, project_environment

LOADED_AFTER_A_REQUEST = """
import sys, django
django.setup()
from django.test import Client
assert Client(HTTP_HOST="localhost").get("/api/v1/payments/").status_code == 401
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def test_with_tracing_off_a_request_loads_nothing_of_opentelemetry(tmp_path):
    done = subprocess.run(
        [PYTHON, "-c", LOADED_AFTER_A_REQUEST],
        cwd=ROOT,
        env=project_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_line_written_inside_a_span_carries_its_trace_and_span():
    from opentelemetry.sdk.trace import TracerProvider

    # A provider of the test's own: the process's global one stays the no-op default.
    tracer = TracerProvider().get_tracer("tests")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.tracing")
    logger.addHandler(handler)
    try:
        with tracer.start_as_current_span("charge") as span:
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside
