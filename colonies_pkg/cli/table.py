"""Box tables as the Go CLI prints them (go-pretty's rounded style), stdlib only.

`list_table(headers, rows)` prints a header row; `kv_table(rows)` prints name/value rows; both
take an optional title. Borders are Unicode (╭─┬─╮) on a terminal and ASCII (+-+) when
COLONIES_CLI_ASCII=true or stdout is not a terminal (COLONIES_CLI_ASCII=false forces Unicode).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TextIO

from ..config import parse_bool


class Style(NamedTuple):
    top: tuple[str, str, str]  # left, join, right
    mid: tuple[str, str, str]
    bottom: tuple[str, str, str]
    horizontal: str
    vertical: str


ROUNDED = Style(("╭", "┬", "╮"), ("├", "┼", "┤"), ("╰", "┴", "╯"), "─", "│")
ASCII = Style(("+", "+", "+"), ("+", "+", "+"), ("+", "+", "+"), "-", "|")


def use_ascii(stream: TextIO | None = None) -> bool:
    """ASCII borders when COLONIES_CLI_ASCII is true, or unset and the stream is not a terminal."""
    value = parse_bool(os.environ.get("COLONIES_CLI_ASCII", ""))
    if value is not None:
        return value
    stream = stream if stream is not None else sys.stdout
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def cell(value: object) -> str:
    """One table cell: None → "", bools as True/False, everything on one line."""
    if value is None:
        return ""
    return str(value).replace("\r", "").replace("\n", " ")


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def _line(style: Style, widths: Sequence[int], part: tuple[str, str, str]) -> str:
    left, join, right = part
    return left + join.join(style.horizontal * (w + 2) for w in widths) + right


def _row(style: Style, widths: Sequence[int], values: Sequence[str]) -> str:
    v = style.vertical
    return v + v.join(f" {value.ljust(width)} " for value, width in zip(values, widths, strict=True)) + v


def render(rows: Iterable[Sequence[object]], headers: Sequence[str] | None = None, title: str | None = None,
           style: Style | None = None) -> str:
    """Render a table to a string (no trailing newline)."""
    style = style or (ASCII if use_ascii() else ROUNDED)
    body = [[cell(v) for v in row] for row in rows]
    ncols = max([len(headers or [])] + [len(r) for r in body] + [1])
    body = [r + [""] * (ncols - len(r)) for r in body]
    head = [cell(h) for h in headers] + [""] * (ncols - len(headers)) if headers else None
    widths = [max([len(r[i]) for r in body] + ([len(head[i])] if head else []) + [0]) for i in range(ncols)]
    out: list[str] = []
    if title is not None:
        inner = sum(w + 2 for w in widths) + ncols - 1
        if len(title) + 2 > inner:  # widen the last column so the title fits on one line
            widths[-1] += len(title) + 2 - inner
            inner = len(title) + 2
        left, _, right = style.top
        out.append(left + style.horizontal * inner + right)
        out.append(style.vertical + f" {title.ljust(inner - 2)} " + style.vertical)
        out.append(_line(style, widths, (style.mid[0], style.top[1], style.mid[2])))
    else:
        out.append(_line(style, widths, style.top))
    if head is not None:
        out.append(_row(style, widths, head))
        out.append(_line(style, widths, style.mid))
    out.extend(_row(style, widths, r) for r in body)
    out.append(_line(style, widths, style.bottom))
    return "\n".join(out)


def list_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> None:
    """Print a table with an upper-case header row."""
    print(render(rows, headers=headers, title=title))


def kv_table(rows: Iterable[tuple[str, object]], title: str | None = None) -> None:
    """Print a two-column name/value table."""
    print(render(rows, title=title))
