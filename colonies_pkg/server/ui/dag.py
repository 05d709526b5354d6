"""A workflow drawn as inline SVG on the server: one row per depth (longest path from a root,
as the graph RPC lays it out), nodes coloured by state and linked to their process page."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .html import STATES, Safe, esc

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 170, 44, 30, 46, 16


def svg(graph: dict[str, Any], processes: dict[str, dict[str, Any]], href: Callable[[str], str]) -> Safe:
    """`graph`: the getprocessgraphmsg reply (nodes with positions, edges); `processes`: by id."""
    nodes = graph.get("nodes") or []
    if not nodes:
        return Safe('<p class="empty">This workflow has no processes.</p>')
    levels: dict[int, list[dict[str, Any]]] = {}
    for node in nodes:
        levels.setdefault(int(node["position"]["y"]), []).append(node)
    rows = [sorted(levels[y], key=lambda n: n["position"]["x"]) for y in sorted(levels)]
    width = max(len(r) for r in rows) * (NODE_W + GAP_X) - GAP_X + 2 * PAD
    height = len(rows) * (NODE_H + GAP_Y) - GAP_Y + 2 * PAD
    where: dict[str, tuple[float, float]] = {}
    for depth, row in enumerate(rows):
        offset = (width - 2 * PAD - (len(row) * (NODE_W + GAP_X) - GAP_X)) / 2
        for i, node in enumerate(row):
            where[node["id"]] = (PAD + offset + i * (NODE_W + GAP_X), PAD + depth * (NODE_H + GAP_Y))
    parts = [f'<svg class="dag" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'role="img" aria-label="workflow graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>']
    for edge in graph.get("edges") or []:
        if edge["source"] in where and edge["target"] in where:
            (x1, y1), (x2, y2) = where[edge["source"]], where[edge["target"]]
            x1, y1, x2 = x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2
            mid = (y1 + y2) / 2
            parts.append(f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f}, {x2:.1f} {mid:.1f}, '
                         f'{x2:.1f} {y2:.1f}" marker-end="url(#arrow)"/>')
    for node in nodes:
        x, y = where[node["id"]]
        proc = processes.get(node["id"], {})
        state = int(proc.get("state", 0))
        name = STATES[state] if 0 <= state < len(STATES) else "unknown"
        spec = proc.get("spec") or {}
        label = (node.get("data") or {}).get("label") or spec.get("funcname") or node["id"][:8]
        parts.append(
            f'<a href="{esc(href(node["id"]))}" class="node s-{name}" data-state="{name}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 18:.1f}">{esc(label[:24])}</text>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 34:.1f}" class="sub">{esc(spec.get("funcname", ""))[:20]} · '
            f'{name}</text><title>{esc(label)}: {name}</title></a>')
    parts.append("</svg>")
    return Safe("".join(parts))
