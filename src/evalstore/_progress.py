"""Progress bars for long work: shown on a terminal, silent in scripts and tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar", "progress_steps"]

#: below this many rows a bar would only flicker
MIN_ROWS = 100_000


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool | None
) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback advancing a bar by n rows, or None when no bar is shown.

    ``enabled=None`` shows a bar on a terminal for work of MIN_ROWS rows or more
    (or of unknown size).
    """
    if enabled is None:
        enabled = sys.stderr.isatty() and (total is None or total >= MIN_ROWS)
    if not enabled:
        yield None
        return
    # imported only to draw a bar: scripts, tests and the server never do
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def progress_steps(
    description: str, steps: int, enabled: bool | None
) -> Iterator[Callable[[str], None]]:
    """Yield a callback ``step(label)`` that names the work starting now and advances a bar
    of ``steps`` steps; silent (a no-op callback) unless enabled, or on a terminal for None.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda label: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=steps, label="")
        started = False

        def step(label: str) -> None:
            nonlocal started
            if started:
                bar.advance(task)
            started = True
            bar.update(task, label=label)

        yield step
        bar.update(task, completed=steps, label="done")
