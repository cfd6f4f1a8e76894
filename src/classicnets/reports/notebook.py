"""Training inside Jupyter: the progress bar and the run's curves as two outputs of the cell,
each updated in place (IPython display handles), so one call leaves one figure, however many
epochs it trains, and redrawing the figure never wipes the bar. The book's Animator clears
the whole cell output instead (`display.clear_output`), taking any progress bar with it.

Nothing is configured: `in_notebook()` tells a Jupyter kernel from a terminal. IPython is
imported only when a kernel is already running it.
"""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_REDRAW_EVERY_S = 0.25  # the bar's redraws; each is a message to the notebook's frontend


def in_notebook() -> bool:
    """True inside a Jupyter kernel (notebook, JupyterLab, VS Code, papermill), False in a
    terminal, in plain IPython and in scripts."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _InPlace:
    """One output of the cell: created by the first `show`, replaced in place by the next ones."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, obj: object) -> None:
        from IPython.display import display

        if self._handle is None:
            self._handle = display(obj, display_id=True)
        else:
            self._handle.update(obj)


class LiveImage:
    """A PNG file shown as one image output, replaced in place each time it is shown again."""

    def __init__(self) -> None:
        self._output = _InPlace()

    def show(self, png: str | Path) -> None:
        from IPython.display import Image

        self._output.show(Image(data=Path(png).read_bytes(), format="png"))


@dataclass
class _Task:
    description: str
    total: float
    completed: float
    start: float  # `completed` when the task was added (a resumed epoch starts part-way)
    started: float = field(default_factory=time.perf_counter)


class NotebookProgress:
    """The part of rich's `Progress` that the training loop uses, drawn as one HTML progress
    bar that is updated in place (rich draws into a Jupyter cell only through ipywidgets)."""

    def __init__(self) -> None:
        self._tasks: dict[int, _Task] = {}
        self._output = _InPlace()
        self._drawn = 0.0

    def __enter__(self) -> NotebookProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tasks.clear()
        self._draw(force=True)

    def add_task(self, description: str, total: float, completed: float = 0) -> int:
        task = max(self._tasks, default=0) + 1
        self._tasks[task] = _Task(description=description, total=total, completed=completed, start=completed)
        self._draw(force=True)
        return task

    def advance(self, task: int, advance: float = 1) -> None:
        self._tasks[task].completed += advance
        self._draw()

    def update(self, task: int, *, description: str | None = None) -> None:
        if description is not None:
            self._tasks[task].description = description
        self._draw()

    def remove_task(self, task: int) -> None:
        self._tasks.pop(task, None)
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._drawn < _REDRAW_EVERY_S:
            return
        self._drawn = now
        from IPython.display import HTML

        self._output.show(HTML("".join(_bar(task) for task in self._tasks.values()) or "<div></div>"))


def _bar(task: _Task) -> str:
    done, total = task.completed, task.total
    rate = (done - task.start) / max(time.perf_counter() - task.started, 1e-9)
    left = f", {(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
    return (
        f"<div style='font-family:monospace'><progress value='{done}' max='{total}' style='width:20em'>"
        f"</progress> {html.escape(task.description)} {done:.0f}/{total:.0f}{left}</div>"
    )
