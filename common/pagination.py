"""A paginator that never counts a million rows.

Django's Paginator runs ``SELECT COUNT(*)`` over the whole list to number its pages; on a
company with a million journal lines that count alone costs more than the page. This one counts
at most ``cap`` rows past the requested page (``SELECT COUNT(*) FROM (… LIMIT n)``, which
PostgreSQL stops early), so the cost of a page is bounded by how deep it is, not by the
table. When more rows exist the page says so ("more than N rows") and the *Last* link is left
out; *Next* keeps working to the end of the list.
"""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet

CAP = 1_000
MAX_PAGE = 10_000_000  # a deeper ?page= is treated as this one (and so lands on the last page): LIMIT stays a bigint


class CappedPaginator(Paginator):
    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = CAP if cap is None else cap
        self.horizon = self.cap  # rows counted at most; moved past the requested page by get_page/page

    def _look_ahead_to(self, number) -> None:
        """Count far enough to know whether page ``number`` exists, and ``cap`` rows beyond it."""
        try:
            wanted = min(max(int(number), 1), MAX_PAGE)
        except (TypeError, ValueError, OverflowError):
            wanted = 1
        if "count" not in self.__dict__:
            self.horizon = max(self.cap, wanted * self.per_page + self.cap)

    def get_page(self, number):
        self._look_ahead_to(number)
        return super().get_page(number)

    def page(self, number):
        self._look_ahead_to(number)
        return super().page(number)

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            return rows.order_by()[: self.horizon + 1].count()
        return len(rows)

    @property
    def capped(self) -> bool:
        """True when there are more rows than were counted: ``count`` is then a lower bound."""
        return self.count > self.horizon


def paginate(request, rows, per_page: int):
    """The requested page (``?page=``) of ``rows``, counted at most ``CAP`` rows past it."""
    return CappedPaginator(rows, per_page).get_page(request.GET.get("page"))
