"""The application queues the worker's tasks by name (`payments.queue`): every name it uses must
be a task the worker has, or a payment would wait for a step nobody runs."""

import pytest
from celery import current_app

from payments import queue

TASK_NAMES = sorted(
    value
    for name, value in vars(queue).items()
    if name.isupper() and isinstance(value, str) and value.startswith("payments.tasks.")
)


def test_the_queue_names_every_task_the_application_queues() -> None:
    assert len(TASK_NAMES) == 8


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_each_name_the_application_queues_is_a_registered_task(task_name: str) -> None:
    assert task_name in current_app.tasks
    # The task is the one of that name in payments.tasks, not a stand-in Celery made up.
    assert current_app.tasks[task_name].__module__ == "payments.tasks"


def test_a_task_queued_by_name_runs_once_the_transaction_commits(
    db, django_capture_on_commit_callbacks, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []
    monkeypatch.setattr(current_app.tasks[queue.PAYMENT_NOTIFY], "run", ran.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queue.queue_after_commit(queue.PAYMENT_NOTIFY, 42)
    assert ran == []
    for callback in callbacks:
        callback()
    assert ran == [42]
