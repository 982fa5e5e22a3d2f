"""The one progress display of the command line: rich (the library every
table and explanation is already drawn with), counting items (events,
claims), drawn only when stderr is a terminal — never into a log file, a
pipe or a CI transcript, where it would be noise between the results."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Counter:
    """Items counted so far (``n``), drawn on a terminal and nowhere else."""

    def __init__(self, shown: Progress | None = None, task: TaskID | None = None) -> None:
        self.n = 0
        self.total: int | None = None
        self._shown = shown
        self._task = task

    @property
    def disable(self) -> bool:
        """True when nothing is drawn (stderr is not a terminal, or ``quiet``)."""
        return self._shown is None

    def update(self, items: int = 1) -> None:
        """Count ``items`` more (an event, a chunk of claims)."""
        self.n += items
        if self._shown is not None and self._task is not None:
            self._shown.advance(self._task, items)

    def set_total(self, total: int) -> None:
        """How many items there will be, once known (the bar then fills)."""
        self.total = total
        if self._shown is not None and self._task is not None:
            self._shown.update(self._task, total=total)


@contextmanager
def progress(
    desc: str, *, unit: str, total: int | None = None, quiet: bool = False
) -> Iterator[Counter]:
    """A :class:`Counter` of ``unit`` (``"events"``); drawn on stderr only when
    it is a terminal and not ``quiet``, and erased when done (the command's
    own summary follows)."""
    if quiet or not sys.stderr.isatty():
        counter = Counter()
        counter.total = total
        yield counter
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    shown = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _count_column(unit),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
        refresh_per_second=4,
    )
    with shown:
        counter = Counter(shown, shown.add_task(desc, total=total))
        counter.total = total
        yield counter


def _count_text(completed: float, total: float | None, unit: str, speed: float | None) -> str:
    """``1,234/5,000 claims · 812/s``: whole items, never bytes."""
    text = f"{int(completed):,}"
    if total is not None:
        text += f"/{int(total):,}"
    text += f" {unit}"
    if speed:
        text += f" · {speed:,.0f}/s"
    return text


def _count_column(unit: str) -> Any:
    """A rich column showing the items counted (rich is imported only when drawn)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(_count_text(task.completed, task.total, unit, task.speed))

    return CountColumn()
