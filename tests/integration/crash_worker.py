"""The project's Celery app for a worker a test kills (`celery -A tests.integration.crash_worker`).

Two changes to the app as deployed, both about the broker, none about the tasks:

- Every task goes to one queue of its own, which only this worker consumes: the session's
  worker (`live_worker`) never takes its messages, and it never takes the session's.
- Redis hands an unacknowledged message to a consumer again after a visibility timeout of
  seconds instead of an hour, looked for every second: a test sees the redelivery production
  would make an hour after a worker died. Settings refuse a timeout shorter than the periodic
  sweeps' time limit (config/settings.py), which this worker never runs long enough to matter.
"""

import os

from kombu import Queue

from config.celery import app

# Never imported by the test process, whose own app must stay as configured: the test passes
# the queue and the timeout in the environment.
QUEUE = os.environ["CRASH_WORKER_QUEUE"]

app.conf.update(
    task_queues=[Queue(QUEUE)],
    task_default_queue=QUEUE,
    task_routes={},
    broker_transport_options={
        "visibility_timeout": int(os.environ["CRASH_WORKER_VISIBILITY_TIMEOUT_SECONDS"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
)
