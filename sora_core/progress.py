"""Progress bars for long loops (sampling steps), drawn only where someone is watching.

``track`` draws a rich progress bar on stderr when it is a terminal, or when
``SORA_PROGRESS=1``; ``SORA_PROGRESS=0`` turns it off everywhere. Otherwise it only
yields the items, so logs and pipes stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["enabled", "track"]

T = TypeVar("T")


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


def track(
    items: Iterable[T], *, total: int | None = None, description: str = "", show: bool | None = None
) -> Iterator[T]:
    """Yield ``items``, advancing a transient progress bar (see :func:`enabled`) after each one."""
    if not enabled(show):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
