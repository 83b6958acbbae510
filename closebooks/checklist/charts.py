"""Days to close per month as a server-rendered SVG bar chart (no script, CSP-clean), with the
figures beside it in a table for screen readers."""

from __future__ import annotations

from html import escape

from .selectors import DaysToClose

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 16, 40


def days_to_close_svg(rows: list[DaysToClose], target: int | None = None) -> str:
    """One bar per month: working days from the month's end to its lock. Open months show no bar."""
    top = max([r.days or 0 for r in rows] + [target or 0, 5])
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(rows), 1)
    body = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#98a2b3"/>']
    for tick in range(0, top + 1, max(1, top // 4)):
        y = HEIGHT - BOTTOM - tick / top * plot_h
        body.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#667085">{tick}</text>')
    for i, row in enumerate(rows):
        x = LEFT + i * slot + slot * 0.15
        label = row.month.strftime("%b %y")
        centre = x + slot * 0.35
        base = HEIGHT - BOTTOM + 16
        body.append(f'<text x="{centre:.1f}" y="{base}" text-anchor="middle" font-size="11">{escape(label)}</text>')
        if row.days is None:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM - 6}" text-anchor="middle" font-size="10" '
                f'fill="#667085">open</text>'
            )
            continue
        h = max(row.days / top * plot_h, 2)
        y = HEIGHT - BOTTOM - h
        title = f"{row.month:%B %Y}: locked {row.locked_on:%Y-%m-%d}, {row.days} working days after the month's end"
        body.append(
            f'<rect class="bar" data-month="{row.key}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="#2f6fde"><title>{escape(title)}</title></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11">{row.days}</text>'
        )
    caption = "Working days from each month's end to its lock"
    return (
        f'<svg class="chart days-to-close" role="img" aria-label="{escape(caption)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{escape(caption)}</title>'
        + "".join(body)
        + "</svg>"
    )
