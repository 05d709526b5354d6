"""HTML building blocks for the dashboard: escaping, the page frame, tables, badges, times,
and the inline-SVG sparkline. Everything user-supplied goes through `esc`; `Safe` marks markup
that is already escaped."""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from ...models.executor import ExecutorState
from ...models.process import ProcessState

STATES = tuple(state.word for state in ProcessState)
EXECUTOR_STATES = tuple(state.word for state in ExecutorState)
NAV = (("", "Overview"), ("processes", "Processes"), ("workflows", "Workflows"), ("executors", "Executors"),
       ("functions", "Functions"), ("crons", "Crons & generators"), ("logs", "Logs"), ("files", "Files"))


class Safe(str):
    """A string of trusted markup; adding anything to it escapes the other side."""

    def __add__(self, other: object) -> Safe:
        return Safe(str.__add__(self, esc(other)))

    def __radd__(self, other: object) -> Safe:
        return Safe(str.__add__(esc(other), self))


def esc(value: Any) -> Safe:
    if isinstance(value, Safe):
        return value
    return Safe(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Safe:
    return Safe("".join(esc(p) for p in parts))


def tag(name: str, content: Any = "", **attrs: Any) -> Safe:
    attr = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Safe(f"<{name}{attr}>{esc(content)}</{name}>")


def link(href: str, text: Any, **attrs: Any) -> Safe:
    return tag("a", text, href=href, **attrs)


def url(colony: str, page: str = "", **query: Any) -> str:
    base = f"/ui/c/{quote(colony, safe='')}/{page}"
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return base + ("?" + urlencode(q) if q else "")


def state_badge(state: int, names: Sequence[str] = STATES) -> Safe:
    name = names[state] if 0 <= state < len(names) else str(state)
    return tag("span", name, class_=f"badge s-{name}")


def short(ident: str, n: int = 12) -> str:
    return ident[:n] + "…" if len(ident) > n else ident


def when(value: Any) -> Safe:
    """An RFC 3339 string (UTC, as the server sends) or unix ns, shown as UTC time."""
    if isinstance(value, (int, float)):
        if not value:
            return Safe("")
        moment = dt.datetime.fromtimestamp(value / 1e9, dt.UTC)
    else:
        found = _RFC3339.match(str(value or ""))
        if not found or found.group(1).startswith("0001-01-01"):
            return Safe("")
        moment = dt.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return tag("time", moment.strftime("%Y-%m-%d %H:%M:%S"), datetime=moment.isoformat())


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "Nothing here yet.",
          **attrs: Any) -> Safe:
    body = [Safe("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>") for row in rows]
    if not body:
        return tag("p", empty, class_="empty")
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    attr = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attrs.items())
    return Safe(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def pretty(value: Any) -> Safe:
    return tag("pre", json.dumps(value, indent=2, ensure_ascii=False, default=str))


def form_button(action: str, label: str, csrf: str, confirm: str = "", **fields: str) -> Safe:
    hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
    attr = f' data-confirm="{esc(confirm)}"' if confirm else ""
    return Safe(f'<form method="post" action="{esc(action)}" class="inline"{attr}>'
                f'<input type="hidden" name="csrf" value="{esc(csrf)}">{hidden}'
                f'<button type="submit">{esc(label)}</button></form>')


def sparkline(points: Sequence[tuple[int, int]], width: int = 240, height: int = 36) -> Safe:
    """Inline SVG: successful per minute as a line, failed as red bars, over the last hour."""
    n = len(points)
    top = max([ok + bad for ok, bad in points] + [1])
    step = width / max(n - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - (ok / top) * (height - 4):.1f}" for i, (ok, _) in enumerate(points))
    bars = "".join(f'<rect x="{i * step - 1:.1f}" y="{height - (bad / top) * (height - 2):.1f}" width="2" '
                   f'height="{(bad / top) * (height - 2):.1f}" class="fail"/>' for i, (_, bad) in enumerate(points) if bad)
    total = sum(ok for ok, _ in points), sum(bad for _, bad in points)
    return Safe(f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
                f'aria-label="last hour: {total[0]} successful, {total[1]} failed">'
                f'<polyline points="{coords}" class="ok"/>{bars}</svg>')


def page(title: str, body: Any, *, colony: str = "", active: str = "", colonies: Sequence[str] = (),
         live: str = "", csrf: str = "", controls: Any = "") -> Safe:
    """The whole document. `live` is the SSE query (colony=…&process=…) for this page's updates;
    the part inside <main> is what a live update replaces."""
    nav = ""
    if colony:
        nav = "".join(f'<a href="{esc(url(colony, p))}"{" class=on" if p == active else ""}>{esc(label)}</a>'
                      for p, label in NAV)
    picker = ""
    if len(colonies) > 1:
        opts = "".join(f'<option value="{esc(url(c))}"{" selected" if c == colony else ""}>{esc(c)}</option>'
                       for c in colonies)
        picker = f'<select id="colony-picker" aria-label="colony">{opts}</select>'
    logout = (f'<form method="post" action="/ui/logout" class="inline"><input type="hidden" name="csrf" '
              f'value="{esc(csrf)}"><button type="submit" class="link">Log out</button></form>') if csrf else ""
    return Safe(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · Colonies</title><link rel="stylesheet" href="/ui/static/ui.css">
<script src="/ui/static/ui.js" defer></script></head>
<body data-live="{esc(live)}">
<header><a class="brand" href="/ui/">Colonies</a>{picker}<nav>{nav}</nav>
<span class="spacer"></span><a href="/ui/server"{" class=on" if active == "server" else ""}>Server</a>{logout}</header>
<div id="controls">{esc(controls)}</div>
<main id="live">{esc(body)}</main>
<footer><span id="live-status"></span></footer>
</body></html>""")
