"""Progress bars for long work (write, compact, vacuum, gen), on stderr.

A bar is drawn only when both stdout and stderr are terminals (``AZOF_OUTPUT=rich`` forces
it, ``AZOF_OUTPUT=plain`` turns it off), so piped or redirected runs stay silent. The
callback a bar yields has the shape the API's ``progress=`` arguments take:
``update(done, total)``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from azof.cli.output import OUTPUT_ENV, make_console

__all__ = ["Update", "progress_bar", "show_progress"]

Update = Callable[[float, float | None], None]
"""``update(done, total)``: the work done so far, and the total when it is known."""


def show_progress() -> bool:
    """Whether progress bars are drawn (see the module docstring)."""
    mode = os.environ.get(OUTPUT_ENV, "").strip().lower()
    if mode in ("rich", "plain"):
        return mode == "rich"
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _ignore(done: float, total: float | None) -> None:
    del done, total


@contextmanager
def progress_bar(description: str, *, counted: bool = True) -> Iterator[Update]:
    """A progress bar on stderr while the block runs; yields its ``update(done, total)``.

    ``counted`` shows "done/total" (rows, segments, files); otherwise a percentage (bytes).
    When bars are off the update does nothing.
    """
    if not show_progress():
        yield _ignore
        return
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if counted else TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=make_console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: float, total: float | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update
