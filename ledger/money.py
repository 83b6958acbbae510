"""The one money parser. Forms, admin, imports, the posting service and every provider read
amounts through :func:`money_parse`, so an amount means the same wherever it comes from.

It accepts plain decimal notation: digits 0-9, an optional leading minus, one decimal separator
and, in a company's format, thousands separators in their places ("1,234.56" or "1.234,56").
It refuses, each with its own message: exponents (``1e5``), underscores (``1_000``), digits other
than 0-9 (Arabic-Indic, full-width ...), NaN, infinities, floats, amounts beyond what the books
hold, and more decimals than the currency has (two at most: the books keep cents).

This module imports nothing of the apps: it sits at the bottom of the import graph.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e18")  # what DecimalField(max_digits=20, decimal_places=2) holds
BOOK_PLACES = 2

# ISO 4217 currencies without minor units. Every other currency is kept to two places (the books'
# precision); a three-decimal currency (KWD, BHD ...) cannot be stored beyond cents either.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
)


class MoneyError(ValueError):
    """An amount that is not plain decimal notation, or that the books cannot hold."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class MoneyFormat:
    """How a person writes amounts: the decimal separator and the thousands separator."""

    key: str
    decimal: str
    group: str
    example: str


PLAIN = MoneyFormat("plain", ".", "", "1234.56")  # what vendors and files send: no grouping
FORMATS = {
    fmt.key: fmt
    for fmt in (
        MoneyFormat("1,234.56", ".", ",", "1,234.56"),
        MoneyFormat("1.234,56", ",", ".", "1.234,56"),
        MoneyFormat("1 234,56", ",", " ", "1 234,56"),
        MoneyFormat("1'234.56", ".", "'", "1'234.56"),
    )
}
DEFAULT_FORMAT = FORMATS["1,234.56"]


def currency_places(currency: str | None) -> int:
    """Decimal places an amount in ``currency`` may have in the books."""
    return 0 if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else BOOK_PLACES


def _pattern(fmt: MoneyFormat) -> re.Pattern:
    dec = re.escape(fmt.decimal)
    if fmt.group:
        grp = re.escape(fmt.group)
        whole = rf"(?:\d{{1,3}}(?:{grp}\d{{3}})+|\d+)"
    else:
        whole = r"\d+"
    return re.compile(rf"^(?P<sign>[-+]?)(?P<whole>{whole})?(?:{dec}(?P<frac>\d+))?$", re.ASCII)


_PATTERNS = {fmt.key: _pattern(fmt) for fmt in (PLAIN, *FORMATS.values())}


def money_format(key: str | None) -> MoneyFormat:
    return FORMATS.get(key or "", DEFAULT_FORMAT) if key != "plain" else PLAIN


def money_parse(
    value: object,
    *,
    currency: str | None = None,
    fmt: MoneyFormat = PLAIN,
    label: str = "Amount",
    blank: Decimal | None = ZERO,
) -> Decimal:
    """``value`` as a Decimal of the books' precision, or :class:`MoneyError` saying what is wrong.

    ``value`` is a string in ``fmt`` (plain ``1234.56`` unless a company's format is given), a
    Decimal or an int. ``currency`` limits the decimals (JPY: none). ``blank`` is what an empty
    value means (zero by default; ``None`` refuses it). ``label`` starts every message."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if blank is None:
            raise MoneyError(f"{label}: enter an amount.")
        return blank
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"{label} {_show(value)} must be given as a decimal, not a {type(value).__name__}.")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
        if amount.is_nan():
            raise MoneyError(f"{label} is not a number (NaN).")
        if amount.is_infinite():
            raise MoneyError(f"{label} is infinite; enter a finite amount.")
    elif isinstance(value, str):
        amount = _parse_text(value, fmt=fmt, label=label)
        written = -amount.as_tuple().exponent if amount.as_tuple().exponent < 0 else 0
        if written > currency_places(currency):  # "1.000" typed is refused, not read as 1.00
            _too_many_places(_show(value), currency=currency, label=label)
    else:
        raise MoneyError(f"{label} {_show(repr(value))} is not an amount.")
    return _fit(amount, value, currency=currency, label=label)


def _show(value: object) -> str:
    """A value as a message may quote it: control characters escaped (a NUL cannot be stored or
    shown), at most 40 characters."""
    text = str(value)
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_text(value: str, *, fmt: MoneyFormat, label: str) -> Decimal:
    text = value.strip()
    shown = _show(text)
    word = text.lstrip("+-").lower()
    if word in {"nan", "snan", "qnan"}:
        raise MoneyError(f"{label} “{shown}” is not a number (NaN).")
    if word in {"inf", "infinity", "∞"}:
        raise MoneyError(f"{label} “{shown}” is infinite; enter a finite amount.")
    if "_" in text:
        raise MoneyError(f"{label} “{shown}” contains an underscore; write the digits only, e.g. {fmt.example}.")
    if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in text) or any(
        unicodedata.category(ch) == "Nd" and not ("0" <= ch <= "9") for ch in text
    ):
        raise MoneyError(f"{label} “{shown}” contains digits other than 0-9; write it with 0-9, e.g. {fmt.example}.")
    if re.search(r"\d[eE][-+]?\d", text) or re.fullmatch(r"[-+]?[\d.,]*[eE][-+]?\d+", text):
        raise MoneyError(f"{label} “{shown}” uses an exponent; write the amount out in full, e.g. {fmt.example}.")
    match = _PATTERNS[fmt.key].match(text)
    if match is None or (match["whole"] is None and match["frac"] is None):
        grouping = f" with “{fmt.group}” between thousands" if fmt.group.strip() else ""
        raise MoneyError(
            f"{label} “{shown}” is not a number: write digits with “{fmt.decimal}” before the decimals{grouping}, "
            f"e.g. {fmt.example}."
        )
    whole = (match["whole"] or "0").replace(fmt.group, "") if fmt.group else (match["whole"] or "0")
    number = f"{match['sign']}{whole}.{match['frac']}" if match["frac"] is not None else f"{match['sign']}{whole}"
    try:
        return Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits only ASCII digits
        raise MoneyError(f"{label} “{shown}” is not an amount.") from None


def _fit(amount: Decimal, value: object, *, currency: str | None, label: str) -> Decimal:
    shown = _show(value)
    # The size is read from the exponent, not computed: abs() of "1e999999999" would overflow.
    if amount and amount.adjusted() >= MAX_AMOUNT.adjusted():
        raise MoneyError(f"{label} {shown} is too large for the books (at most 18 digits before the decimals).")
    places = currency_places(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places and amount.normalize().as_tuple().exponent < -places:
        _too_many_places(shown, currency=currency, label=label)
    try:
        return amount.quantize(CENT)
    except InvalidOperation:
        raise MoneyError(f"{label} {shown} is too large for the books.") from None


def _too_many_places(shown: object, *, currency: str | None, label: str) -> None:
    if currency_places(currency) == 0:
        raise MoneyError(f"{label} {shown} has decimals, but {currency.upper()} amounts have none.")
    where = f"{currency.upper()} amounts have cents at most" if currency else "the books keep cents"
    raise MoneyError(f"{label} {shown} has more than two decimal places: {where}.")


__all__ = [
    "CENT",
    "DEFAULT_FORMAT",
    "FORMATS",
    "MAX_AMOUNT",
    "PLAIN",
    "ZERO",
    "MoneyError",
    "MoneyFormat",
    "currency_places",
    "money_format",
    "money_parse",
]
