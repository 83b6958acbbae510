"""Connection, mapping and sync pages: parse -> fetch-and-authorize -> service -> redirect."""

from __future__ import annotations

import json
from datetime import date, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledger import roles
from ledger.forms import parse_id
from ledger.selectors import company_get_for_user

from . import qbd, selectors, services
from .crypto import decrypt, encrypt
from .exceptions import IntegrationError
from .models import Connection, SyncRun
from .providers import provider_class
from .providers.base import TenantChoiceNeeded, Tokens

SESSION_KEY = "integrations_oauth"
CHOICE_KEY = "integrations_tenant_choice"
OAUTH_PROVIDERS = [code for code in Connection.Provider.values if provider_class(code).uses_oauth]


def _can(request, company) -> dict:
    return {
        "can_manage": request.user.has_perm(roles.MANAGE, company),
        "can_administer": request.user.has_perm(roles.ADMINISTER, company),
    }


def _inbound_policy(conn: Connection | None) -> str:
    """What the connection's provider lets in despite restrict-inbound (its BC6 exception), if anything."""
    policy = provider_class(conn.provider).inbound_policy if conn else None
    return policy.description if policy else ""


@login_required
@require_GET
def connection_status(request, slug):
    company = company_get_for_user(request.user, slug)
    conn = selectors.connection_live(company)
    response = render(
        request,
        "integrations/connection.html",
        {
            "company": company,
            "connection": conn,
            "providers": [(v, label) for v, label in Connection.Provider.choices if v in OAUTH_PROVIDERS],
            "entities": conn.entities.filter(active=True) if conn else [],
            "min_version": provider_class(conn.provider).min_closed_date_version if conn else "",
            "runs": selectors.sync_run_list(company)[:15],
            "unmapped": selectors.unmapped_entries(company).count() if conn else None,
            "needing_sync": selectors.entries_needing_sync(company).count() if conn and conn.is_active else None,
            "waiting": selectors.inbound_waiting(conn) if conn else [],
            "inbound_policy": _inbound_policy(conn),
            **_can(request, company),
        },
    )
    # The Connect buttons post here and are redirected to the vendor's sign-in screen: the page's
    # CSP form-action (django-csp, 'self' by default) also allows those origins, and only them.
    response._csp_update = {"form-action": services.oauth_authorize_origins(OAUTH_PROVIDERS)}
    return response


@login_required
@require_POST
def connect_start(request, slug):
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    provider = request.POST.get("provider", "")
    if provider not in OAUTH_PROVIDERS:
        messages.error(request, "Choose an accounting system that connects through its sign-in screen.")
        return redirect("integrations:status", slug=company.slug)
    redirect_uri = request.build_absolute_uri(reverse("integrations_callback", kwargs={"provider": provider}))
    url, state, verifier = services.oauth_authorize_url(provider_code=provider, redirect_uri=redirect_uri)
    pending = request.session.get(SESSION_KEY, {})
    # The PKCE verifier stays server-side, in this browser's session, until the callback (RFC 7636).
    pending[state] = {"company": company.slug, "provider": provider, "verifier": verifier}
    request.session[SESSION_KEY] = dict(list(pending.items())[-5:])  # a few tabs at most
    return redirect(url)


@login_required
@require_GET
def connect_callback(request, provider):
    """The vendor sends the user back here with ``code`` and ``state`` (and QBO's ``realmId``).
    A state this session did not issue is refused before anything else happens."""
    pending = request.session.get(SESSION_KEY, {})
    state = request.GET.get("state", "")
    expected = pending.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending
    if expected is None or expected["provider"] != provider:
        return HttpResponseBadRequest(
            render_to_string(
                "integrations/callback_error.html",
                {
                    "message": "This sign-in answer does not match a connection "
                    "started from this browser (bad or reused state). Start connecting again."
                },
                request=request,
            )
        )
    company = company_get_for_user(request.user, expected["company"], roles.ADMINISTER)
    if request.GET.get("error") or not request.GET.get("code"):
        messages.error(request, f"The accounting system did not connect: {request.GET.get('error', 'no authorization code')}.")
        return redirect("integrations:status", slug=company.slug)
    redirect_uri = request.build_absolute_uri(reverse("integrations_callback", kwargs={"provider": provider}))
    try:
        conn = services.connection_connect(
            company=company,
            provider_code=provider,
            code=request.GET["code"],
            params=request.GET.dict(),
            redirect_uri=redirect_uri,
            actor=request.user,
            code_verifier=expected.get("verifier", ""),
        )
        count = services.accounts_pull(connection=conn, actor=request.user)
    except TenantChoiceNeeded as exc:
        # Several organisations were authorised in this one sign-in (Xero): the user picks one. The
        # sign-in's tokens wait in this browser's session, encrypted, until the choice is posted.
        request.session[CHOICE_KEY] = {
            "company": company.slug,
            "provider": provider,
            "tenants": exc.tenants,
            "tokens": encrypt(
                json.dumps(
                    {
                        "access": exc.tokens.access_token,
                        "refresh": exc.tokens.refresh_token,
                        "expires": exc.tokens.access_expires_at.isoformat(),
                    }
                )
            ),
        }
        return render(request, "integrations/choose_tenant.html", {"company": company, "tenants": exc.tenants})
    except IntegrationError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:status", slug=company.slug)
    messages.success(request, f"Connected to {conn.tenant_name}; {count} accounts pulled. Check the mappings.")
    return redirect("integrations:mappings", slug=company.slug)


@login_required
@require_POST
def connect_choose(request, slug):
    """The organisation chosen among those one sign-in authorised; anything else is refused."""
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    pending = request.session.pop(CHOICE_KEY, None)
    chosen = request.POST.get("tenant", "")
    if not pending or pending.get("company") != company.slug or chosen not in {t for t, _ in pending.get("tenants", [])}:
        messages.error(request, "That organisation was not one this sign-in authorised. Connect again.")
        return redirect("integrations:status", slug=company.slug)
    saved = json.loads(decrypt(pending["tokens"]))
    tokens = Tokens(saved["access"], saved["refresh"], datetime.fromisoformat(saved["expires"]))
    try:
        conn = services.connection_connect_chosen(
            company=company, provider_code=pending["provider"], tokens=tokens, tenant_id=chosen, actor=request.user
        )
        count = services.accounts_pull(connection=conn, actor=request.user)
    except IntegrationError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:status", slug=company.slug)
    messages.success(request, f"Connected to {conn.tenant_name}; {count} accounts pulled. Check the mappings.")
    return redirect("integrations:mappings", slug=company.slug)


@login_required
@require_POST
def disconnect(request, slug):
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    conn = selectors.connection_live(company)
    if conn is not None:
        services.connection_disconnect(connection=conn, actor=request.user)
        messages.success(request, f"Disconnected from {conn.tenant_name}.")
    return redirect("integrations:status", slug=company.slug)


@login_required
@require_POST
def pull(request, slug):
    company = company_get_for_user(request.user, slug, roles.MANAGE)
    conn = selectors.connection_active(company)
    if conn is None:
        messages.error(request, "Connect an accounting system first.")
        return redirect("integrations:status", slug=company.slug)
    what = request.POST.get("what")
    transport = services.transport_for(conn)
    try:
        if what == "accounts":
            count = services.accounts_pull(connection=conn, actor=request.user)
            if transport.queued:
                messages.success(request, "Chart of accounts request queued" + transport.waits)
            else:
                messages.success(request, f"{count} accounts pulled.")
        elif what == "inbound":
            run = services.inbound_pull(connection=conn, actor=request.user)
            return redirect("integrations:run", slug=company.slug, pk=run.pk)
        else:
            run = services.closed_date_pull(connection=conn, actor=request.user)
            if run.status == SyncRun.Status.FAILED:
                messages.error(request, run.error)
            elif not run.is_finished:
                messages.success(request, "Closing date request queued" + transport.waits)
            else:
                messages.success(
                    request, f"Closed date in {conn.get_provider_display()}: {run.result['closed_through'] or 'never closed'}."
                )
    except IntegrationError as exc:
        messages.error(request, exc.message)
    return redirect("integrations:status", slug=company.slug)


@login_required
@require_http_methods(["GET", "POST"])
def mappings(request, slug):
    company = company_get_for_user(request.user, slug, roles.MANAGE)
    conn = selectors.connection_active(company)
    if conn is None:
        messages.error(request, "Connect an accounting system first.")
        return redirect("integrations:status", slug=company.slug)
    rows = selectors.mapping_rows(conn)
    error = None
    if request.method == "POST":
        if "accept_suggestions" in request.POST:
            choices = {r.account.pk: r.suggestion.pk for r in rows if r.mapped_to is None and r.suggestion is not None}
        else:
            choices = {}
            for r in rows:
                value = request.POST.get(f"map-{r.account.pk}")
                if value is not None:
                    choices[r.account.pk] = parse_id(value)
        try:
            result = services.mappings_save(connection=conn, choices=choices, actor=request.user)
        except IntegrationError as exc:
            error = exc.message
        else:
            messages.success(request, f"{result['changed']} mappings changed.")
            return redirect("integrations:mappings", slug=company.slug)
    externals = conn.external_accounts.order_by("number", "name")
    return render(
        request,
        "integrations/mappings.html",
        {
            "company": company,
            "connection": conn,
            "rows": rows,
            "externals": externals,
            "error": error,
            "unmapped": sum(1 for r in rows if r.mapped_to is None),
            "flagged_entries": selectors.unmapped_entries(company).count(),
        },
    )


@login_required
@require_POST
def sync_start(request, slug):
    company = company_get_for_user(request.user, slug, roles.MANAGE)
    try:
        run = services.sync_run_start(company=company, actor=request.user, entity=request.POST.get("entity", ""))
    except IntegrationError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:status", slug=company.slug)
    return redirect("integrations:run", slug=company.slug, pk=run.pk)


@login_required
@require_GET
def run_detail(request, slug, pk):
    company = company_get_for_user(request.user, slug)
    run = selectors.sync_run_get(company, pk)
    return render(
        request,
        "integrations/run.html",
        {
            "company": company,
            "run": run,
            "progress": selectors.sync_run_progress(run),
            "issues": run.issues.select_related("entry")[:500],
        },
    )


@login_required
@require_GET
def run_progress(request, slug, pk):
    company = company_get_for_user(request.user, slug)
    return JsonResponse(selectors.sync_run_progress(selectors.sync_run_get(company, pk)))


@login_required
@require_POST
def connect_credentials(request, slug):
    """Sage Intacct: company id, Web Services user id and password typed here (no OAuth)."""
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    try:
        conn = services.connection_connect_credentials(
            company=company,
            provider_code="intacct",
            company_id=request.POST.get("company_id", ""),
            user_id=request.POST.get("user_id", ""),
            password=request.POST.get("password", ""),
            actor=request.user,
        )
        count = services.accounts_pull(connection=conn, actor=request.user)
    except IntegrationError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:status", slug=company.slug)
    messages.success(
        request,
        f"Connected to {conn.tenant_name}: {conn.entities.count()} entities, {count} accounts pulled. Check the mappings.",
    )
    return redirect("integrations:mappings", slug=company.slug)


@login_required
@require_POST
def entity_closed_date(request, slug):
    """Set one entity's closed date as entered in closebooks (BC9)."""
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    conn = selectors.connection_active(company)
    if conn is None:
        messages.error(request, "Connect an accounting system first.")
        return redirect("integrations:status", slug=company.slug)
    raw = request.POST.get("closed_through", "").strip()
    try:
        closed = date.fromisoformat(raw) if raw else None
    except ValueError:
        messages.error(request, f"“{raw}” is not a date (YYYY-MM-DD).")
        return redirect("integrations:status", slug=company.slug)
    try:
        entity = services.entity_closed_date_set(
            connection=conn, external_id=request.POST.get("entity", ""), closed_through=closed, actor=request.user
        )
    except IntegrationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Entity {entity}: closed through {entity.closed_through or 'no date'} ({entity.closed_source})."
        )
    return redirect("integrations:status", slug=company.slug)


@login_required
@require_POST
def connect_qbd(request, slug):
    """QuickBooks Desktop: a connection and a Web Connector password, shown once, then the .qwc file."""
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    try:
        conn, password = qbd.connection_connect_qbd(company=company, actor=request.user)
    except IntegrationError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:status", slug=company.slug)
    # The password is shown on this response only: never put in a flash message (those travel in the
    # session or a cookie), never logged, and the page is not cached.
    response = render(request, "integrations/qbd_password.html", {"company": company, "connection": conn, "password": password})
    add_never_cache_headers(response)
    return response


@login_required
@require_GET
def qwc_download(request, slug):
    company = company_get_for_user(request.user, slug, roles.ADMINISTER)
    conn = selectors.connection_active(company)
    if conn is None or conn.provider != "qbd":
        messages.error(request, "Connect QuickBooks Desktop first.")
        return redirect("integrations:status", slug=company.slug)
    body = qbd.qwc_file(
        connection=conn,
        app_url=request.build_absolute_uri(reverse("integrations_qbwc")),
        support_url=request.build_absolute_uri(reverse("integrations:status", kwargs={"slug": company.slug})),
    )
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="closebooks-{company.slug}.qwc"'
    return response


@csrf_exempt
@require_POST
def qbwc(request):
    """The Web Connector's SOAP endpoint: authenticated by its user and password, then its ticket."""
    status, body = qbd.soap_handle(request.body, client=request.META.get("REMOTE_ADDR", ""), request=request)
    return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
