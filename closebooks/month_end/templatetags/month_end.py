from django import template

register = template.Library()


@register.filter
def cell(row, key):
    """A row's value for a column key (rows are dicts)."""
    return row.get(key, "") if isinstance(row, dict) else getattr(row, key, "")
