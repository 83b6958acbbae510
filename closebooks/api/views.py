"""Settings → API keys and webhooks (administrators). A new key or signing secret is shown once,
on the page that made it; afterwards only its public prefix is shown."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ledger import roles
from ledger import selectors as ledger_selectors
from ledger.exceptions import LedgerError
from ledger.forms import add_service_error

from . import services
from .forms import ApiKeyForm, WebhookForm
from .models import ApiCall, ApiKey, WebhookDelivery, WebhookEndpoint


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    form = ApiKeyForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = services.api_key_create(
                company=company, actor=request.user, name=data["name"], scope=data["scope"], expires_at=data["expires_at"]
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            form = ApiKeyForm()
    keys = ApiKey.objects.filter(company=company).select_related("created_by")
    calls = ApiCall.objects.filter(company=company).select_related("key")[:50]
    response = render(
        request,
        "api/keys.html",
        {"company": company, "form": form, "keys": keys, "made": made, "calls": calls},
        status=400 if request.method == "POST" and made is None else 200,
    )
    if made is not None:
        response["Cache-Control"] = "no-store"  # the key is on this page once: never kept by a cache
    return response


@login_required
@require_POST
def api_key_revoke(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    key = ApiKey.objects.filter(company=company, pk=pk).first()
    if key is None:
        raise Http404("No such key.")
    services.api_key_revoke(key=key, actor=request.user)
    messages.success(request, f"{key} is revoked: calls with it are refused from now on.")
    return redirect("api_settings:keys", slug=company.slug)


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request, slug):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    form = WebhookForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        try:
            made = services.webhook_create(
                company=company, actor=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
            )
        except LedgerError as exc:
            add_service_error(form, exc)
        else:
            form = WebhookForm()
    endpoints = WebhookEndpoint.objects.filter(company=company, active=True)
    response = render(
        request,
        "api/webhooks.html",
        {"company": company, "form": form, "endpoints": endpoints, "made": made},
        status=400 if request.method == "POST" and made is None else 200,
    )
    if made is not None:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET"])
def webhook(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    endpoint = WebhookEndpoint.objects.filter(company=company, pk=pk).first()
    if endpoint is None:
        raise Http404("No such webhook.")
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)[:100]
    return render(request, "api/webhook.html", {"company": company, "endpoint": endpoint, "deliveries": deliveries})


@login_required
@require_POST
def webhook_delete(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    endpoint = WebhookEndpoint.objects.filter(company=company, pk=pk).first()
    if endpoint is None:
        raise Http404("No such webhook.")
    services.webhook_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, f"Webhook to {endpoint.url} removed.")
    return redirect("api_settings:webhooks", slug=company.slug)


@login_required
@require_POST
def delivery_redeliver(request, slug, pk):
    company = ledger_selectors.company_get_for_user(request.user, slug, roles.ADMINISTER)
    delivery = WebhookDelivery.objects.filter(company=company, pk=pk).select_related("endpoint").first()
    if delivery is None:
        raise Http404("No such delivery.")
    services.webhook_redeliver(delivery=delivery, actor=request.user)
    messages.success(request, "The delivery is sent again.")
    return redirect("api_settings:webhook", slug=company.slug, pk=delivery.endpoint_id)
