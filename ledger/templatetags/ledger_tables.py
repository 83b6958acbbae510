"""Table rows written in Python for the pages that show many of them at once.

The template engine resolves and localises every value of every row through its generic lookups;
for the journal table (the journal, Review and the dashboard, the pages people open most) that was
most of the page's rendering time. ``format_html`` escapes each value exactly as ``{{ }}`` does.
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from .money import money

register = template.Library()

_ENTRY_ROW = (
    '<tr class="{}"><td><a href="{}{}/">JE-{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
    '<td class="num">{}</td><td>{}</td><td>{}</td></tr>'
)
_UNBALANCED = mark_safe('<span class="flag">Unbalanced</span>')  # noqa: S308 - a constant


def journal_entry_url_prefix(company) -> str:
    """The journal-entry page's URL without its id (``…/journal/``): one ``reverse()`` for a page of
    rows instead of one per row; a row's link is the prefix, the entry id and ``/``."""
    return reverse("ledger:journal_entry", args=[company.slug, 0]).removesuffix("0/")


@register.simple_tag
def entry_rows(entries, company) -> str:
    """One row per journal entry (with ``total_debit`` and ``line_count`` attached, see
    ``ledger.selectors.with_line_totals``); unbalanced entries are flagged (PC2)."""
    entry_url = journal_entry_url_prefix(company)
    return format_html_join(
        "\n",
        _ENTRY_ROW,
        (
            (
                "" if entry.is_balanced else "flagged",
                entry_url,
                entry.pk,
                entry.pk,
                entry.entry_date.isoformat(),
                entry.reference,
                Truncator(entry.memo).chars(60),
                entry.get_source_display(),
                money(entry.total_debit),
                entry.line_count,
                "" if entry.is_balanced else _UNBALANCED,
            )
            for entry in entries
        ),
    )
