"""How fast this machine runs plain Python at the time of a benchmark.

The same benchmark on the same 2-core machine varies from one hour to the next (by a third
and more: other work on the host), so each result says how long a fixed piece of Python took
when it was measured: one side of the run's conditions, beside the load averages (DuckDB's
queries vary as well, not in step with it).
"""

from __future__ import annotations

import time

__all__ = ["python_loop_seconds"]


def python_loop_seconds(steps: int = 5_000_000, repeats: int = 3) -> float:
    """The median wall time of ``steps`` additions in a Python loop (~0.5 s each)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]
