"""Running the same code in many threads at once, each with its own database connection."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_at_once(work: Callable[[], T], *, threads: int) -> list[T]:
    """Run `work` in `threads` threads released together; return what each returned.

    Raises the first error any thread raised: a thread must not fail silently.
    """
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()  # each thread's own connection

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    if errors:
        raise errors[0]
    return results
