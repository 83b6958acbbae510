"""Server-rendered SVG charts: AR aging by bucket, and invoiced revenue against GL revenue over
twelve months. Plain SVG strings with escaped text: no JavaScript, no extra dependency, readable
by screen readers through <title> and a data table beside each chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from ledger.models import Company

from . import figures
from .figures import Period
from .reports import BUCKETS, ar_aging_buckets

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 16, 40
COLORS = {"invoiced": "#2f6fde", "gl": "#e08a1e", "bar": "#2f6fde"}


@dataclass(frozen=True)
class Chart:
    svg: str
    rows: list[tuple]  # the figures drawn, for the table beside the chart


def _scale(values: list[Decimal]) -> Decimal:
    top = max([abs(v) for v in values] + [Decimal(1)])
    return top


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _frame(title: str, body: list[str], css_class: str) -> str:
    return (
        f'<svg class="chart {css_class}" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#98a2b3"/>'
        + "".join(body)
        + "</svg>"
    )


def ar_aging_chart(company: Company, day: date) -> Chart:
    buckets = ar_aging_buckets(company, day)
    labels = dict(BUCKETS)
    values = list(buckets.values())
    top = _scale(values)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(values)
    body = []
    for i, (key, value) in enumerate(buckets.items()):
        h = float(abs(value) / top) * plot_h
        x = LEFT + i * slot + slot * 0.15
        y = HEIGHT - BOTTOM - h
        body.append(
            f'<rect class="bar" data-bucket="{key}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{COLORS["bar"]}"><title>{escape(labels[key])}: {_money(value)}</title></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="12">'
            f"{escape(labels[key])}</text>"
            f'<text x="{x + slot * 0.35:.1f}" y="{max(y - 4, TOP + 10):.1f}" text-anchor="middle" font-size="11">'
            f"{_money(value)}</text>"
        )
    title = f"AR aging at {day:%Y-%m-%d} by days past due"
    return Chart(_frame(title, body, "ar-aging"), [(labels[k], v) for k, v in buckets.items()])


def revenue_chart(company: Company, last: Period) -> Chart:
    """Invoiced revenue (invoices less credit memos, net of tax) against GL revenue, month by month
    for the twelve months ending with ``last``. Twelve pairs of aggregates, no per-document work."""
    periods = [last]
    while len(periods) < 12:
        periods.insert(0, periods[0].previous())
    rows = []
    for period in periods:
        taxes, totals = figures.taxes_and_totals(company, period)
        rows.append((period.first_day.strftime("%b %Y"), totals - taxes, figures.gl_revenue(company, period)))
    top = _scale([v for _, a, b in rows for v in (a, b)])
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(rows)
    body = []
    for i, (label, invoiced, gl) in enumerate(rows):
        x = LEFT + i * slot
        for j, (series, value) in enumerate((("invoiced", invoiced), ("gl", gl))):
            h = float(abs(value) / top) * plot_h if value else 0.0
            body.append(
                f'<rect class="bar {series}" x="{x + slot * (0.1 + 0.4 * j):.1f}" y="{HEIGHT - BOTTOM - h:.1f}" '
                f'width="{slot * 0.38:.1f}" height="{h:.1f}" fill="{COLORS[series]}">'
                f"<title>{escape(label)} {'invoiced' if series == 'invoiced' else 'GL'}: {_money(value)}</title></rect>"
            )
        body.append(
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10">'
            f"{escape(label[:3])}</text>"
        )
    body.append(f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="10">{_money(top)}</text>')
    body.append(f'<text x="{LEFT - 6}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="10">0</text>')
    legend_y = HEIGHT - 6
    body.append(
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS["invoiced"]}"/>'
        f'<text x="{LEFT + 14}" y="{legend_y}" font-size="11">Invoiced revenue (net of tax)</text>'
        f'<rect x="{LEFT + 220}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS["gl"]}"/>'
        f'<text x="{LEFT + 234}" y="{legend_y}" font-size="11">GL revenue</text>'
    )
    title = f"Invoiced revenue against GL revenue, {periods[0].label} to {last.label}"
    return Chart(_frame(title, body, "revenue"), [(label, a, b, b - a) for label, a, b in rows])


__all__ = ["Chart", "ar_aging_chart", "revenue_chart"]
