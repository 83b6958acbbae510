from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value, blank_zero=False):
    """A money amount with two places and thousands separators, without a detour through float."""
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return value
    if blank_zero and not amount:
        return ""
    return f"{amount.quantize(Decimal('0.01')):,}"
