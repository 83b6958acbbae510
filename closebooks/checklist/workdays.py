"""Working days (Monday to Friday) counted from a period's end: WD+1 is the first working day
after the month's last day. The company's own holidays are not known to closebooks."""

from datetime import date, timedelta


def is_working_day(day: date) -> bool:
    return day.weekday() < 5


def working_day_after(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (n >= 1)."""
    current, counted = day, 0
    while counted < n:
        current += timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


def working_days_between(start: date, end: date) -> int:
    """How many working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    full_weeks, rest = divmod((end - start).days, 7)
    count = full_weeks * 5
    day = start + timedelta(days=full_weeks * 7)
    for _ in range(rest):
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


def next_working_day(day: date) -> date:
    return working_day_after(day, 1)
