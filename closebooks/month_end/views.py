"""Month-end pages: the six checks with acceptance, the reports (HTML and CSV), the drill-downs
and the charts. Parse the query → fetch-and-authorize the company → read or call the service."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from common.pagination import paginate
from ledger import roles, selectors
from ledger.exceptions import LedgerError
from ledger.forms import add_service_error

from . import charts
from .checks import run_checks
from .drilldown import drill_down as drill_down_sections
from .figures import Period
from .forms import AcceptForm, PeriodForm, ReportForm, default_period
from .models import CheckAcceptance
from .reports import REPORTS
from .rules import RULES
from .services import check_acceptance_create

PAGE_SIZE = 100
LINKS = {"document": ("ledger:document", "id"), "target": ("ledger:document", "target_id"), "payment": ("ledger:payment", "id")}
LINKS["entry"] = ("ledger:journal_entry", "entry_id")


def _with_links(rows, columns, company) -> list[dict]:
    """The shown rows with the URL of the document, payment or entry behind each linked cell."""
    linked = [c for c in columns if c.link]
    out = []
    for row in rows:
        links = {}
        for column in linked:
            name, key = LINKS[column.link]
            if row.get(key):
                links[column.key] = reverse(name, args=[company.slug, row[key]])
        out.append({**row, "_links": links})
    return out


def _period_query(period: Period) -> str:
    return f"first={period.first_day:%Y-%m-%d}&last={period.last_day:%Y-%m-%d}"


def checks_context(user, company, period: Period, accept_forms: dict | None = None) -> dict:
    """What ``closebooks/month_end/_checks.html`` needs to show the six checks of ``period`` with
    their acceptances (the month-end page, and the close wizard's Review step)."""
    results = run_checks(company, period.first_day, period.last_day)
    acceptances = {}
    for acceptance in CheckAcceptance.objects.filter(
        company=company, first_day=period.first_day, last_day=period.last_day
    ).select_related("accepted_by"):
        acceptances.setdefault(acceptance.rule, acceptance)
    accept_forms = accept_forms or {}
    rows = []
    for result in results:
        acceptance = acceptances.get(result.rule)
        rows.append(
            {
                "result": result,
                "acceptance": acceptance,
                "accepted": acceptance is not None and acceptance.difference == result.difference,
                "accept_form": accept_forms.get(result.rule)
                or AcceptForm(initial={"first": period.first_day, "last": period.last_day}, prefix=result.rule),
            }
        )
    return {
        "checks": rows,
        "passed": sum(1 for r in results if r.passed),
        "can_accept": user.has_perm(roles.ADMINISTER, company),
    }


def _month_end_context(request, company, period: Period | None, form: PeriodForm, accept_forms: dict | None = None) -> dict:
    context = {"company": company, "form": form, "period": period, "rules": RULES}
    if period is None:
        return context
    aging_day = min(period.last_day, company.today())
    context.update(
        checks_context(request.user, company, period, accept_forms),
        aging_chart=charts.ar_aging_chart(company, aging_day),
        aging_day=aging_day,
        revenue_chart=charts.revenue_chart(company, Period.containing(period.last_day)),
        period_query=_period_query(period),
    )
    return context


@login_required
@require_GET
def month_end(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    form = PeriodForm(request.GET or None, company=company)
    if request.GET and not form.is_valid():
        return render(request, "closebooks/month_end/index.html", _month_end_context(request, company, None, form), status=400)
    period = form.cleaned_data["period"] if request.GET else default_period(company)
    if not request.GET:
        form = PeriodForm(initial={"month": period.key}, company=company)
    return render(request, "closebooks/month_end/index.html", _month_end_context(request, company, period, form))


@login_required
@require_POST
def accept(request, slug, rule):
    company = selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    if rule not in RULES:
        raise Http404("No such check.")
    form = AcceptForm(request.POST, prefix=rule, company=company)
    if form.is_valid():
        period = Period(form.cleaned_data["first"], form.cleaned_data["last"])
        try:
            check_acceptance_create(
                company=company,
                rule=rule,
                first_day=period.first_day,
                last_day=period.last_day,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{rule} {RULES[rule]}: the difference is accepted for {period.label}.")
            back = request.POST.get("next", "")
            if back and url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                return redirect(back)  # e.g. the close wizard's Review step
            return redirect(f"{reverse('month_end:index', args=[company.slug])}?{_period_query(period)}")
    first = form.cleaned_data.get("first") if hasattr(form, "cleaned_data") else None
    last = form.cleaned_data.get("last") if hasattr(form, "cleaned_data") else None
    period_ok = first and last and last >= first and not form.non_field_errors()  # non-field: the period is refused
    period = Period(first, last) if period_ok else default_period(company)
    period_form = PeriodForm(initial={"first": period.first_day, "last": period.last_day}, company=company)
    context = _month_end_context(request, company, period, period_form, accept_forms={rule: form})
    context["accept_errors"] = [f"{rule} {RULES[rule]}: {error}" for errors in form.errors.values() for error in errors]
    return render(request, "closebooks/month_end/index.html", context, status=400)


@login_required
@require_GET
def drill_down(request, slug, rule):
    company = selectors.company_get_for_user(request.user, slug)
    if rule not in RULES:
        raise Http404("No such check.")
    form = PeriodForm(request.GET or None, company=company)
    if request.GET and not form.is_valid():
        return render(
            request, "closebooks/month_end/drill_down.html", {"company": company, "form": form, "rule": rule}, status=400
        )
    period = form.cleaned_data["period"] if request.GET else default_period(company)
    result = run_checks(company, period.first_day, period.last_day)[list(RULES).index(rule)]
    sections = [
        {"section": s, "rows": _with_links(s.rows[: s.limit], s.columns, company), "count": s.rows.count()}
        for s in drill_down_sections(company, rule, period)
    ]
    return render(
        request,
        "closebooks/month_end/drill_down.html",
        {"company": company, "form": form, "rule": rule, "result": result, "period": period, "sections": sections},
    )


@login_required
@require_GET
def report_index(request, slug):
    company = selectors.company_get_for_user(request.user, slug)
    return render(request, "closebooks/month_end/reports.html", {"company": company, "reports": REPORTS.values()})


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


class _Echo:
    def write(self, value):
        return value


def _csv_response(spec, report, company) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = report.rows.iterator() if hasattr(report.rows, "iterator") else iter(report.rows)

    def lines():
        yield writer.writerow([c.label for c in report.columns])
        for row in rows:
            yield writer.writerow([_csv_value(row.get(c.key)) for c in report.columns])
        for label, amount in report.totals:
            yield writer.writerow([label, *([""] * (len(report.columns) - 2)), _csv_value(amount)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{company.slug}-{spec.key}.csv"'
    return response


@login_required
@require_GET
def report(request, slug, key):
    company = selectors.company_get_for_user(request.user, slug)
    spec = REPORTS.get(key)
    if spec is None:
        raise Http404("No such report.")
    data = request.GET.copy()
    data.pop("page", None)
    wants_csv = data.pop("format", [""])[0] == "csv"
    form = ReportForm(data, company=company, mode=spec.mode)
    context = {"company": company, "spec": spec, "form": form, "reports": REPORTS.values()}
    if not form.is_valid():
        return render(request, "closebooks/month_end/report.html", context, status=400)
    params = form.params()
    built = spec.build(company, params)
    if wants_csv:
        return _csv_response(spec, built, company)
    query = data.urlencode()
    page = paginate(request, built.rows, PAGE_SIZE)
    page.object_list = _with_links(page.object_list, built.columns, company)
    context.update(
        report=built,
        params=params,
        page=page,
        query=query,
        csv_query=f"{query}&format=csv" if query else "format=csv",
    )
    return render(request, "closebooks/month_end/report.html", context)
