"""Printing for the CLI: rich tables on a terminal, plain columns when piped, JSON when asked.

rich is imported only when a table is actually drawn on a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from sora_core.text import printable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any


def is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, plain_title: bool = False
) -> None:
    """A table: drawn with rich on a terminal, aligned plain text otherwise (titled if ``plain_title``).

    Cells are made :func:`~sora_core.text.printable` (and, for rich, markup-escaped): they may hold text from a
    registry or a plugin manifest.
    """
    title = printable(title)
    rows = [[printable(cell) for cell in row] for row in rows]
    if is_terminal():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=escape(title), title_justify="left", header_style="bold")
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        Console().print(table)
        return
    if plain_title:
        sys.stdout.write(f"\n{title}:\n")
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """``label: value`` lines with aligned labels."""
    width = max((len(label) for label, _ in fields), default=0)
    for label, value in fields:
        sys.stdout.write(f"{label + ':':<{width + 1}} {printable(value)}\n")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {printable(message)}\n")
