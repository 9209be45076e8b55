"""`Table`: rows with a rich HTML form for notebooks and a stable plain-text form for the rest.

Every object that shows itself in a notebook (cluster, topic, group, magic output) renders
through this, so the text a test or nbval compares never holds a memory address or a colour code.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Table", "Tables", "text_of"]


def text_of(data: bytes) -> str:
    """Bytes as a person reads them: UTF-8 text, else `0x` and hex."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "0x" + data.hex()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, bytes):
        return text_of(value)
    return str(value)


class Table:
    """A titled table; `marks` names rows to highlight (e.g. under-replicated partitions)."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        title: str | None = None,
        footer: str | None = None,
        marks: Sequence[str | None] | None = None,
    ) -> None:
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        self.title = title
        self.footer = footer
        self.marks = list(marks) if marks is not None else [None] * len(self.rows)
        if len(self.marks) != len(self.rows):
            raise ValueError("marks must have one entry per row")

    def __len__(self) -> int:
        return len(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column name (for DataFrames and tests)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def __str__(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [len(c) for c in self.columns]
        for row in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        for row, mark in zip(cells, self.marks, strict=True):
            text = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            lines.append(f"{text}  <- {mark}" if mark else text)
        if not self.rows:
            lines.append("(none)")
        if self.footer:
            lines.append(self.footer)
        return "\n".join(line.rstrip() for line in lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = ['<div class="kstream-table">']
        if self.title:
            parts.append(f"<strong>{esc(self.title)}</strong>")
        parts.append('<table style="border-collapse:collapse"><thead><tr>')
        parts.extend(
            f'<th style="text-align:left;padding:2px 8px">{esc(c)}</th>' for c in self.columns
        )
        parts.append("</tr></thead><tbody>")
        for row, mark in zip(self.rows, self.marks, strict=True):
            style = ' style="background:#fdecea"' if mark else ""
            hint = f' title="{esc(mark)}"' if mark else ""
            parts.append(f"<tr{style}{hint}>")
            parts.extend(
                f'<td style="text-align:left;padding:2px 8px"><code>{esc(_cell(v))}</code></td>'
                for v in row
            )
            parts.append("</tr>")
        parts.append("</tbody></table>")
        if not self.rows:
            parts.append("<em>(none)</em>")
        if self.footer:
            parts.append(f"<div>{esc(self.footer)}</div>")
        parts.append("</div>")
        return "".join(parts)


class Tables:
    """Several tables shown one after another (a topic's partitions and its configs)."""

    def __init__(self, *tables: Table) -> None:
        self.tables = list(tables)

    def __str__(self) -> str:
        return "\n\n".join(str(t) for t in self.tables)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self.tables)
