"""Progress for long runs (pipeline nodes, sampling steps), shown only where someone is watching.

Progress is shown on stderr when it is a terminal, when the caller forces it (``--progress``,
``show=True``), or when ``SORA_PROGRESS=1``; ``SORA_PROGRESS=0`` turns it off unless forced. On a
terminal it is a rich bar; when stderr is piped or redirected (a log file, CI) it is plain lines, one
per step (``t2v: 3/9 sampler (1.2 s)``), which a log keeps and a pipe can read as they come. Bars or
lines opened while another is showing (the sampling steps inside a pipeline's node bar) show too, without
being asked again, and on a terminal they join the same display as another line, so nested loops never
fight over the terminal.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["enabled", "listen", "quiet", "steps", "track"]

T = TypeVar("T")

_lock = threading.Lock()
_display: Any = None  # the shared rich Progress while any bar is open on a terminal
_users = 0
_open = 0  # bars or line reporters open now, of either form: nested loops show while one is
_quiet = 0  # quiet() blocks open now: progress not forced is off inside them
_listeners: list[Callable[[str, int, int | None], None]] = []  # listen() callbacks, told of every step

#: With more steps than this, a line is written only when the count crosses another 5% of the total.
LINE_EVERY_STEP_UP_TO = 50


def enabled(force: bool | None = None) -> bool:
    """Whether progress is shown: ``force`` if given, else not inside :func:`quiet`, else ``$SORA_PROGRESS``, else
    whether progress is already showing (an outer loop's), else whether stderr is a terminal."""
    if force is not None:
        return force
    if _quiet:
        return False
    setting = os.environ.get("SORA_PROGRESS", "").strip().lower()
    if setting in {"1", "true", "yes", "on"}:
        return True
    if setting in {"0", "false", "no", "off"}:
        return False
    return _open > 0 or _is_terminal()


@contextmanager
def quiet() -> Iterator[None]:
    """Inside the block, progress that is not forced (``show=None``) is off, whatever ``$SORA_PROGRESS`` says: a
    batch job's items run quietly under its own bar."""
    global _quiet
    with _lock:
        _quiet += 1
    try:
        yield
    finally:
        with _lock:
            _quiet -= 1


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


@contextmanager
def _opened() -> Iterator[None]:
    global _open
    with _lock:
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1


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


def _write_line(text: str) -> None:
    from sora_core.text import printable

    with _lock:
        try:
            sys.stderr.write(printable(text) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe must not fail the run it reports on
            pass


@contextmanager
def _lines(total: int | None, description: str) -> Iterator[Callable[[str], None]]:
    """Progress as plain lines on stderr: one when it starts, then one per step (per 5% with many steps)."""
    name = description or "progress"
    start = time.monotonic()
    state = {"done": 0, "shown": 0}
    of = f"/{total}" if total else ""
    _write_line(f"{name}: 0{of}")

    def advance(label: str = "") -> None:
        with _lock:
            state["done"] += 1
            done = state["done"]
            thinned = total and total > LINE_EVERY_STEP_UP_TO and done < total
            if thinned and 20 * done // total == 20 * state["shown"] // total:
                return
            state["shown"] = done
        elapsed = time.monotonic() - start
        _write_line(f"{name}: {done}{of}" + (f" {label}" if label else "") + f" ({elapsed:.1f} s)")

    yield advance


@contextmanager
def steps(total: int | None, description: str = "", *, show: bool | None = None) -> Iterator[Callable[[str], None]]:
    """Progress over ``total`` steps; the yielded function advances it by one and may relabel it.

    A bar on a terminal, lines otherwise (see the module's docstring); nothing when :func:`enabled` says no.
    Each step is told to the :func:`listen` callbacks either way.
    """
    done = 0

    def told(advance: Callable[[str], None]) -> Callable[[str], None]:
        def advance_and_tell(label: str = "") -> None:
            nonlocal done
            advance(label)
            done += 1
            for callback in list(_listeners):
                callback(description, done, total)

        return advance_and_tell

    if not enabled(show):
        yield told(lambda label="": None)
        return
    with _opened():
        if not _is_terminal():
            with _lines(total, description) as advance:
                yield told(advance)
            return
        with _shared_display() as display:
            task = display.add_task(description, total=total)

            def advance_bar(label: str = "") -> None:
                display.update(task, advance=1, description=f"{description}: {label}" if label else description)

            try:
                yield told(advance_bar)
            finally:
                display.remove_task(task)


@contextmanager
def listen(callback: Callable[[str, int, int | None], None]) -> Iterator[None]:
    """Call ``callback(description, done, total)`` after each step of every :func:`steps` and :func:`track` loop,
    shown or not and in any thread, while the block runs (``sora studio`` shows a sampler's steps this way)."""
    with _lock:
        _listeners.append(callback)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(callback)


def track(
    items: Iterable[T], *, total: int | None = None, description: str = "", show: bool | None = None
) -> Iterator[T]:
    """Yield ``items``, advancing progress (see :func:`enabled`) after each one."""
    with steps(total, description, show=show) as advance:
        for item in items:
            yield item
            advance()
