"""`%%produce`: turn a cell into records, validating all of it before anything is sent.

A cell is all or nothing: a bad line is reported with its line number and no record of the cell
is produced, so a learner never has to work out which half of a cell made it to the topic.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["CellError", "CellRecord", "parse_cell"]

FORMATS = ("jsonl", "json", "csv", "text")


class CellError(ValueError):
    """A cell that cannot become records; the message names the line and the fix."""


@dataclass(frozen=True, slots=True)
class CellRecord:
    key: bytes | None
    value: bytes
    line: int


def _key_of(obj: Any, field: str | None, line: int) -> bytes | None:
    if field is None:
        return None
    if not isinstance(obj, dict):
        raise CellError(f"line {line}: --key {field} needs a JSON object, got {type(obj).__name__}")
    if field not in obj:
        raise CellError(
            f"line {line}: no field {field!r} for --key (fields: {', '.join(map(str, obj))})"
        )
    value = obj[field]
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _json_line(text: str, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CellError(
            f"line {line}: invalid JSON ({exc.msg} at column {exc.colno}); nothing was produced "
            "(for plain text lines use --format text)"
        ) from None


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_cell(
    cell: str,
    fmt: str = "jsonl",
    *,
    key: str | None = None,
    key_separator: str | None = None,
    first_line: int = 2,
) -> list[CellRecord]:
    """Every record of a cell; `first_line` is the notebook line of the cell's first line.

    jsonl: one JSON value per non-blank line (sent as written). json: one JSON array (each
    element a record) or one value. csv: a header row, then one JSON object per row (numbers
    typed). text: each non-blank line as UTF-8 text; `key_separator` splits `key<sep>value`.
    """
    if fmt not in FORMATS:
        raise CellError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    if key is not None and fmt == "text":
        raise CellError("--key names a field of JSON or CSV records; for text use --key-separator")
    records: list[CellRecord] = []
    lines = cell.splitlines()
    if fmt == "jsonl":
        for i, raw in enumerate(lines):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            line = first_line + i
            obj = _json_line(text, line)
            records.append(CellRecord(_key_of(obj, key, line), text.encode(), line))
    elif fmt == "json":
        if not cell.strip():
            return []
        obj = _json_line(cell, first_line)
        items = obj if isinstance(obj, list) else [obj]
        for item in items:
            value = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
            records.append(CellRecord(_key_of(item, key, first_line), value, first_line))
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(cell.strip("\n"))))
        if not rows:
            return []
        header = [h.strip() for h in rows[0]]
        for i, row in enumerate(rows[1:], start=1):
            line = first_line + i
            if not row:
                continue
            if len(row) != len(header):
                raise CellError(
                    f"line {line}: {len(row)} fields but the header has {len(header)}; "
                    "nothing was produced"
                )
            obj = {h: _number(v.strip()) for h, v in zip(header, row, strict=True)}
            value = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
            records.append(CellRecord(_key_of(obj, key, line), value, line))
    else:
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            line = first_line + i
            if key_separator is not None:
                if key_separator not in raw:
                    raise CellError(
                        f"line {line}: no key separator {key_separator!r}; write key"
                        f"{key_separator}value, or drop --key-separator"
                    )
                k, _, v = raw.partition(key_separator)
                records.append(CellRecord(k.encode(), v.encode(), line))
            else:
                records.append(CellRecord(None, raw.encode(), line))
    return records
