"""CPU time that each process of the stack spends in a benchmark phase, read from /proc.

Throughput on this machine is bound by its two cores, shared by every process of the stack: what
a phase costs each of them (the worker, the card simulator, MariaDB, Redis) says where a slow
ratio comes from before any profiler is attached.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# How each process is told apart by its command line, first match wins. The card simulator is
# the gunicorn with threads (bench/stack.py, tests/processes.py); the web server's are sync.
ROLES = (
    ("simulator", ("gunicorn", "gthread")),
    ("web", ("gunicorn",)),
    ("worker", ("celery",)),
    ("mariadb", ("mariadbd",)),
    ("redis", ("redis-server",)),
)
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_role() -> dict[str, float]:
    """User + system CPU seconds of every live process with a role, summed per role."""
    totals = dict.fromkeys((role for role, _ in ROLES), 0.0)
    for folder in Path("/proc").iterdir():
        if not folder.name.isdigit():
            continue
        try:
            command = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            # Fields after the command's name, which is in parentheses and may hold spaces.
            fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        role = role_of(command)
        if role:
            # utime and stime: fields 14 and 15 of /proc/<pid>/stat, 12 and 13 after the name.
            totals[role] += (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND
    return totals


def role_of(command: str) -> str | None:
    for role, words in ROLES:
        if all(word in command for word in words):
            return role
    return None


@contextmanager
def cpu_spent(*, this_process_as: str = "") -> Iterator[dict[str, float]]:
    """Yields a dict filled, when the block ends, with the CPU seconds each role spent in it.

    `this_process_as` counts the benchmark's own process too, under that role: for work it
    does itself (it is left out otherwise, as the load generator).
    """
    spent: dict[str, float] = {}
    before, own_before = cpu_seconds_by_role(), _own_cpu_seconds()
    yield spent
    after, own_after = cpu_seconds_by_role(), _own_cpu_seconds()
    spent.update({role: after[role] - before[role] for role in after})
    if this_process_as:
        spent[this_process_as] = spent.get(this_process_as, 0.0) + own_after - own_before


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def describe(spent: dict[str, float], per: int) -> str:
    """`worker 12.1, mariadb 3.0, …` in milliseconds per item, busiest first, zeros left out."""
    parts = [
        f"{role} {seconds / per * 1000:.1f}"
        for role, seconds in sorted(spent.items(), key=lambda item: -item[1])
        if seconds > 0
    ]
    return ", ".join(parts) + f" (total {sum(spent.values()) / per * 1000:.1f} ms)"
