"""A person's notifications (the in-app list) and their choice of what to be told, and how."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ledger.forms import parse_id
from ledger.selectors import company_list_for_user

from . import services
from .models import Notification, NotificationPreference


@login_required
@require_GET
def notification_list(request):
    rows = Notification.objects.filter(user=request.user, in_app=True, company__in=company_list_for_user(request.user))
    page = Paginator(rows.select_related("company"), 50).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page, "unread": rows.filter(read_at__isnull=True).count()})


@login_required
@require_POST
def mark_read(request):
    one = parse_id(request.POST.get("id"))
    count = services.notifications_mark_read(user=request.user, ids=[one] if one else None)
    if one:
        target = Notification.objects.filter(user=request.user, pk=one).values_list("link", flat=True).first()
        safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
        if target and safe:
            return redirect(target)
    messages.success(request, f"{count} marked as read.")
    return redirect("notifications:list")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    chosen = {p.kind: p for p in NotificationPreference.objects.filter(user=request.user)}
    if request.method == "POST":
        choices = {
            kind: (request.POST.get(f"{kind}-in_app") == "on", request.POST.get(f"{kind}-email") == "on")
            for kind in Notification.Kind.values
        }
        services.preferences_save(user=request.user, choices=choices)
        messages.success(request, "Your choices are saved.")
        return redirect("notifications:preferences")
    rows = [
        {
            "kind": kind,
            "label": label,
            "in_app": chosen[kind].in_app if kind in chosen else True,
            "email": chosen[kind].email if kind in chosen else True,
        }
        for kind, label in Notification.Kind.choices
    ]
    return render(request, "notifications/preferences.html", {"rows": rows, "has_email": bool(request.user.email)})
