"""gunicorn's configuration for the web tier: `gunicorn -c config/gunicorn.py config.wsgi`.

Read by gunicorn (not by Django) before any worker starts. What differs between machines comes
from the environment: PORT, WEB_CONCURRENCY (processes), GUNICORN_THREADS (threads each).
"""

import json
import os
import re
import shutil
from datetime import UTC, datetime
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

# All interfaces: in a container the runtime publishes the port, and the load balancer reaches
# the task on its own address.
bind = [f"0.0.0.0:{int(os.environ.get('PORT', '8000'))}"]

# gthread: a request that waits on the card provider (tokenizing happens inside the API call, up
# to CARD_PROVIDER_TIMEOUT_SECONDS) holds one thread, not a whole process. Threads add nothing
# on database-bound endpoints (docs/stack.md: gthread did not beat sync there), so processes
# follow the CPUs: 2 per core, the 4 on 2 cores that were measured. Each thread keeps its own
# database connection (CONN_MAX_AGE): a task opens WEB_CONCURRENCY x GUNICORN_THREADS of them.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# Longer than the slowest legitimate request (a card provider call: 3 s to connect + 10 s to
# answer), short enough that a stuck worker is replaced quickly.
timeout = 30
graceful_timeout = 30
# Longer than the load balancer's idle timeout (ALB: 60 s), so the balancer, never gunicorn,
# closes an idle connection: otherwise a request can race the close and get a 502.
keepalive = 75

# Replace each process after about a thousand requests (jitter: not all at once), so a slow leak
# never grows into an outage.
max_requests = 1000
max_requests_jitter = 100

# The load balancer's X-Forwarded-* headers are believed only from these addresses. Behind an
# ALB whose security group is the only way in, set FORWARDED_ALLOW_IPS=* (its addresses change).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The heartbeat file on a memory filesystem: on a container's overlay disk it can block a worker
# long enough to be killed for a timeout.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Nothing uses gunicornc, and the socket would be written under $HOME, which a container's
# non-root user need not have.
control_socket_disable = True

# Access lines on stdout, errors (and the application's own log, see LOGGING) on stderr.
accesslog = "-"
errorlog = "-"


# A path that holds a secret: the back office's two-factor enrolment link carries its token
# (accounts/admin_site.py), which, with the password, sets up an authenticator.
_SECRET_IN_PATH = re.compile(r"(/two-factor/enrol/)[^/]+")


class JsonAccessLogger(glogging.Logger):
    """Writes each access line as one JSON object, like the application's log (core/logging.py),
    so CloudWatch Logs Insights reads both. The query string is left out: it is not redacted; so
    is an enrolment link's token (`_SECRET_IN_PATH`)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "request_id": atoms.get("{x-request-id}o"),
            "method": atoms["m"],
            "path": _SECRET_IN_PATH.sub(r"\1[REDACTED]", atoms["U"]),
            "status": int(atoms["s"]),
            "bytes": atoms["B"],
            "duration_ms": atoms["M"],
            "remote_addr": atoms["h"],
            "forwarded_for": atoms.get("{x-forwarded-for}i"),
            "user_agent": atoms["a"],
        }
        self.access_log.info(json.dumps(line, ensure_ascii=False, default=str))


logger_class = JsonAccessLogger


# Prometheus metrics from every process (core/metrics.py): with PROMETHEUS_MULTIPROC_DIR set,
# each worker writes its counters there and /metrics adds them up. The master, which loads no
# application code, empties the folder before any worker starts (an earlier run's files would
# count twice), and retires a dead worker's live gauges.
def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
