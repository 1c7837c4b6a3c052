"""Progress bars for long runs (pipeline nodes, sampling steps), drawn only where someone is watching.

A bar is drawn on stderr when it is a terminal, or when ``SORA_PROGRESS=1``;
``SORA_PROGRESS=0`` turns bars off everywhere. Bars opened while another is showing
(the sampling steps inside a pipeline's node bar) join the same display as another
line, so nested loops never fight over the terminal.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["enabled", "steps", "track"]

T = TypeVar("T")

_lock = threading.Lock()
_display: Any = None  # the shared rich Progress while any bar is open
_users = 0


def enabled(force: bool | None = None) -> bool:
    """Whether a bar is drawn: ``force`` if given, else ``$SORA_PROGRESS``, else whether stderr is a terminal."""
    if force is not None:
        return force
    setting = os.environ.get("SORA_PROGRESS", "").strip().lower()
    if setting in {"1", "true", "yes", "on"}:
        return True
    if setting in {"0", "false", "no", "off"}:
        return False
    return sys.stderr.isatty()


@contextmanager
def _shared_display() -> Iterator[Any]:
    global _display, _users
    with _lock:
        if _display is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            _display = Progress(*columns, console=Console(stderr=True), transient=True)
            _display.start()
        _users += 1
        display = _display
    try:
        yield display
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _display.stop()
                _display = None


@contextmanager
def steps(total: int | None, description: str = "", *, show: bool | None = None) -> Iterator[Callable[[str], None]]:
    """A bar of ``total`` steps; the yielded function advances it by one and may relabel it."""
    if not enabled(show):
        yield lambda label="": None
        return
    with _shared_display() as display:
        task = display.add_task(description, total=total)

        def advance(label: str = "") -> None:
            display.update(task, advance=1, description=f"{description}: {label}" if label else description)

        try:
            yield advance
        finally:
            display.remove_task(task)


def track(
    items: Iterable[T], *, total: int | None = None, description: str = "", show: bool | None = None
) -> Iterator[T]:
    """Yield ``items``, advancing a bar (see :func:`enabled`) after each one."""
    with steps(total, description, show=show) as advance:
        for item in items:
            yield item
            advance()
