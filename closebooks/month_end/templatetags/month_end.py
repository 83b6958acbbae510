from django import template

register = template.Library()


@register.filter
def cell(row, key):
    """A row's value for a column key (rows are dicts)."""
    return row.get(key, "") if isinstance(row, dict) else getattr(row, key, "")


@register.filter
def cell_url(row, key):
    """The link of a row's cell, if the column links to the document behind it."""
    return (row.get("_links") or {}).get(key, "") if isinstance(row, dict) else ""
