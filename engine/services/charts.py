"""Bar charts as plain HTML and CSS, for the printed outreach list and the impact preview.

A chart is a table: a row per bar with its label and its number as text, and the bar
itself a CSS width beside them. So the text alternative is the chart (a screen reader
reads the label and the number; the bar is hidden from it), it prints without scripts,
and nothing is fetched from a CDN. A chart whose bars are all zero says so in words
instead of drawing an empty axis.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

# Colours with at least 3:1 contrast against white (WCAG 1.4.11, non-text contrast);
# print-color-adjust keeps the bars when a browser would drop backgrounds on paper.
CHART_CSS = (
    "table.bars{border-collapse:collapse;margin:0.5em 0 1em;width:100%;max-width:48em}"
    "table.bars caption{text-align:left;font-weight:bold;padding-bottom:0.3em}"
    "table.bars th,table.bars td{border:none;padding:2px 6px;text-align:left;vertical-align:middle}"
    "table.bars .n{text-align:right;white-space:nowrap}"
    "table.bars td.bar{width:55%}"
    "table.bars td.bar span{display:block;height:0.8em;margin:1px 0;min-width:1px;"
    "-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "table.bars .s0{background:#1f5fa8}table.bars .s1{background:#b3361b}"
    "table.bars .s2{background:#2d7a3a}table.bars .neg{opacity:0.55}"
    "p.chart-empty{font-style:italic}"
)


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float, ...]  # one per series


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(title: str, label_header: str, series: Sequence[str], bars: Sequence[Bar], empty: str) -> str:
    """A bar chart of one or more series (``series`` names them, the column headers);
    ``empty`` is what it says when every bar is zero or there are none."""
    caption = f"<caption>{html.escape(title)}</caption>"
    if not any(v for bar in bars for v in bar.values):
        return f'<table class="bars">{caption}</table><p class="chart-empty">{html.escape(empty)}</p>'
    largest = max(abs(v) for bar in bars for v in bar.values)
    head = "".join(f'<th scope="col" class="n">{html.escape(name)}</th>' for name in series)
    parts = [
        f'<table class="bars">{caption}<thead><tr><th scope="col">{html.escape(label_header)}</th>'
        f'{head}<td aria-hidden="true"></td></tr></thead><tbody>'
    ]
    for bar in bars:
        numbers = "".join(f'<td class="n">{_number(v)}</td>' for v in bar.values)
        spans = "".join(
            f'<span class="s{i % 3}{" neg" if v < 0 else ""}" style="width:{100 * abs(v) / largest:.1f}%"></span>'
            for i, v in enumerate(bar.values)
        )
        parts.append(
            f'<tr><th scope="row">{html.escape(bar.label)}</th>{numbers}'
            f'<td class="bar" aria-hidden="true">{spans}</td></tr>'
        )
    parts.append("</tbody></table>")
    return "".join(parts)
