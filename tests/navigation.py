"""Browser tests reach company pages through the menu a person uses."""


def go(page, menu: str, item: str) -> None:
    """Open the company menu ``menu`` (Books, Receivables, Payables, Close, Settings) and click ``item``."""
    page.click(f"nav.company-nav details.menu > summary:text-is('{menu}')")
    page.click(f"nav.company-nav details.menu[open] >> text={item}")
