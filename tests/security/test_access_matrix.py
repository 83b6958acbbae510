"""Every URL pattern and every admin page × every role × the own and another company's objects:
no access beyond the role (DESIGN.md, Roles). A user with no role in a company, and every user
asking for another company's object, gets 404; a role lacking the permission gets 403 (or 404);
anonymous visitors are sent to sign in."""

import functools
from unittest import mock

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ledger import roles
from ledger.models import AuditEvent
from tests.security.access import ACCESS, LOGIN, PUBLIC, Page
from tests.security.world import MEMBER_ROLES, ROLES

pytestmark = pytest.mark.django_db


def url_names(patterns=None, namespace=None):
    """Every named URL pattern of the project (the admin's are walked per registered model below)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            yield from url_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, f"URL pattern {pattern.pattern} has no name: name it and add it to ACCESS"
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_pattern_is_in_the_access_table():
    names = set(url_names())
    assert not names - set(ACCESS), f"add these URL names to tests/security/access.py ACCESS: {sorted(names - set(ACCESS))}"
    assert not set(ACCESS) - names, f"ACCESS names URLs that no longer exist: {sorted(set(ACCESS) - names)}"


COMPANY_NAMESPACES = {"ledger", "reconciliation", "close", "integrations", "month_end", "checklist", "api_settings"}
API_WITHOUT_COMPANY = {"api-v1:openapi-json", "api-v1:openapi-view", "api-v1:api-root"}


def _url(name: str, page: Page, world, side="own") -> str:
    kwargs = dict(page.kwargs)
    if name.split(":")[0] in COMPANY_NAMESPACES or (page.api and name not in API_WITHOUT_COMPANY):
        kwargs["slug"] = world.own.company.slug
    if page.pk:
        kwargs["pk"] = getattr(world, side).objects[page.pk].pk
    return reverse(name, kwargs=kwargs)


def _data(page: Page, world, side="own") -> dict:
    side = getattr(world, side)
    return {k: side.objects[v[1:]].pk if str(v).startswith("@") else v for k, v in page.data.items()}


def _request(client, method: str, url: str, data: dict | None = None):
    """One request whose writes are undone, so the next role meets the same world. Every write
    of closebooks is audited: ``response.audited`` counts the audit events it wrote."""
    with transaction.atomic():
        before = AuditEvent.objects.count()
        response = getattr(client, method)(url, data) if method == "post" and data else getattr(client, method)(url)
        response.audited = AuditEvent.objects.count() - before
        transaction.set_rollback(True)
    return response


def _holds(world, role, perm) -> bool:
    user = world.users[role]
    if perm == PUBLIC:
        return True
    if user is None:
        return False
    if perm == LOGIN:
        return True
    return role in MEMBER_ROLES and user.has_perm(perm, world.own.company)


def _served(response, page: Page, method: str) -> bool:
    if page.ok:
        return response.status_code in page.ok
    return response.status_code == 200 if method == "get" else response.status_code in (200, 302)


@pytest.mark.parametrize("name", sorted(n for n, p in ACCESS.items() if not p.api))
def test_url_access_by_role(name, world, clients):
    page = ACCESS[name]
    problems = []
    for method in ("get", "post"):
        perm = getattr(page, method)
        for role in ROLES:
            url = _url(name, page, world)
            response = _request(clients[role], method, url, _data(page, world))
            status = response.status_code
            if perm is None:
                expected = "405 (method refused) or sign-in"
                good = status == 405 or (role == "anonymous" and status == 302)
            elif role == "anonymous" and perm != PUBLIC:
                expected = "redirect to sign in"
                good = status == 302 and response["Location"].startswith(reverse("login"))
            elif role == "nonmember" and perm not in (LOGIN, PUBLIC):
                expected = "404 (no role in the company)"
                good = status == 404
            elif _holds(world, role, perm):
                expected = "served"
                good = _served(response, page, method)
            else:
                expected = "403/404 (role lacks the permission), or a refusal on the page that writes nothing"
                good = status in (403, 404) or (status in page.refused and response.audited == 0)
            if not good:
                problems.append(f"{method.upper()} {url} as {role}: got {status}, expected {expected}")
            if page.pk and perm not in (None, LOGIN, PUBLIC) and role in MEMBER_ROLES:
                foreign = _url(name, page, world, side="foreign")
                status = _request(clients[role], method, foreign, _data(page, world, side="foreign")).status_code
                if status != 404 and not (status == 403 and not _holds(world, role, perm)):
                    problems.append(f"{method.upper()} {foreign} (another company's {page.pk}) as {role}: got {status}, not 404")
            if page.data and method == "post" and _holds(world, role, perm) and role in MEMBER_ROLES:
                # the own company's page, fed the other company's object: refused, nothing written
                response = _request(clients[role], method, url, _data(page, world, side="foreign"))
                if response.status_code != 404 and response.audited:
                    problems.append(f"POST {url} with another company's {page.data} as {role}: it wrote")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the API (company keys)


def _api_call(client, name: str, page: Page, world, key: str | None):
    import json

    url = _url(name, page, world)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    side = world.own
    if page.api == "post":
        body = json.loads(
            json.dumps(page.data)
            .replace("@account_code", side.objects["account"].code)
            .replace("@counter_code", side.objects["mapping"].account.code)
        )
        with transaction.atomic():
            response = client.post(url, data=json.dumps(body), content_type="application/json", **headers)
            transaction.set_rollback(True)
        return response
    return client.get(url, page.data, **headers)


@pytest.mark.parametrize("name", sorted(n for n, p in ACCESS.items() if p.api))
def test_api_access_by_key(name, world, clients):
    """A session never authenticates the API; a key answers for its own company only (another
    company's key: 404, as for a company that does not exist) and within its scope (403)."""
    page = ACCESS[name]
    problems = []
    served = page.ok or ((200,) if page.api != "post" else (201,))
    for role in ROLES:  # signed in or not, without a key
        status = _api_call(clients[role], name, page, world, None).status_code
        wanted = served if page.api == PUBLIC else (401,)
        if status not in wanted:
            problems.append(f"{name} as {role} without a key: got {status}, expected {wanted}")
    if page.api != PUBLIC:
        client = clients["anonymous"]
        for scope, key in world.own.keys.items():
            status = _api_call(client, name, page, world, key).status_code
            wanted = served if (page.api == "read" or scope == "post") else (403,)
            if status not in wanted:
                problems.append(f"{name} with the own company's {scope} key: got {status}, expected {wanted}")
        for scope, key in world.foreign.keys.items():
            status = _api_call(client, name, page, world, key).status_code
            if status != 404:
                problems.append(f"{name} with another company's {scope} key: got {status}, expected 404")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- admin


def _admin_rows():
    for model, model_admin in admin.site._registry.items():
        yield pytest.param(model, model_admin, id=f"{model._meta.app_label}.{model._meta.model_name}")


def _company_path(model_admin):
    return getattr(model_admin, "company_path", None)


def _objects(world, model, model_admin):
    path = _company_path(model_admin)
    if path is None:
        return None, None
    own = model._default_manager.filter(**{path: world.own.company.pk}).order_by("pk").first()
    foreign = model._default_manager.filter(**{path: world.foreign.company.pk}).order_by("pk").first()
    return own, foreign


def _write_perm(model_admin):
    return getattr(model_admin, "write_perm", None)


@pytest.mark.parametrize(("model", "model_admin"), list(_admin_rows()))
def test_admin_access_by_role(model, model_admin, world, clients):
    """Staff reach admin pages only for the companies they hold a role in, and write only with the
    model's write permission there; another company's rows are not found."""
    info = model._meta.app_label, model._meta.model_name
    own, foreign = _objects(world, model, model_admin)
    scoped = _company_path(model_admin) is not None
    if scoped:
        assert own is not None and foreign is not None, f"tests/security/world.py builds no {model.__name__} in both companies"
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    add = reverse("admin:{}_{}_add".format(*info))
    problems = []

    def check(role, method, url, good, expected, data=None):
        with transaction.atomic():
            response = getattr(clients[role], method)(url, data or {})
            transaction.set_rollback(True)
        if not good(response):
            problems.append(f"{method.upper()} {url} as {role}: got {response.status_code}, expected {expected}")

    def not_found(r):
        # the admin answers a row outside the user's queryset with a redirect to its index ("does not exist")
        return r.status_code == 404 or (r.status_code == 302 and r["Location"] == reverse("admin:index"))

    to_login = (lambda r: r.status_code == 302 and r["Location"].startswith(reverse("admin:login")), "sign in")
    for role in ROLES:
        user = world.users[role]
        if role == "anonymous":
            check(role, "get", changelist, *to_login)
            continue
        member = role in MEMBER_ROLES
        if not scoped:  # auth's users and groups: no company role grants them
            for url in (changelist, add):
                check(role, "get", url, lambda r: r.status_code == 403, "403")
            continue
        can_write = member and user.has_perm(_write_perm(model_admin), world.own.company)
        action_perm = getattr(model_admin, "action_perm", None) or _write_perm(model_admin)
        can_act = member and user.has_perm(action_perm, world.own.company)
        if member:
            check(role, "get", changelist, lambda r: r.status_code == 200, "200")
        if member and not can_write:
            check(role, "get", add, lambda r: r.status_code == 403, "403 (role lacks the write permission)")
            check(role, "post", add, lambda r: r.status_code == 403, "403 (role lacks the write permission)")
        # the non-member is staff with a role in the other company only: the own company's rows are foreign to them
        for obj, mine in ((own, True), (foreign, False)) if member else ((own, False),):
            change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            delete = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
            history = reverse("admin:{}_{}_history".format(*info), args=[obj.pk])
            if not (mine and member):
                check(role, "get", history, lambda r: not_found(r) or r.status_code == 403, "not found")
                check(role, "post", change, lambda r: not_found(r) or r.status_code == 403, "not found")
                check(role, "post", delete, lambda r: not_found(r) or r.status_code == 403, "not found")
                continue
            check(role, "get", change, lambda r: r.status_code == 200, "200 (view)")
            if not can_write:
                check(role, "post", change, lambda r: r.status_code == 403, "403 (read-only for this role)")
                check(role, "get", delete, lambda r: r.status_code == 403, "403")
                check(role, "post", delete, lambda r: r.status_code == 403, "403", {"post": "yes"})
        for action_name in model_admin.actions or ():
            if not isinstance(action_name, str):
                continue
            # another company's row: asked by the strongest role and by the non-member
            rows = [(own, member)] + ([(foreign, False)] if role == roles_admin() else [])
            for obj, mine in rows:
                allowed = mine and can_act
                calls = []
                original = getattr(type(model_admin), action_name)

                @functools.wraps(original)
                def spy(self, request, queryset, _original=original, _calls=calls):
                    _calls.extend(queryset.values_list("pk", flat=True))  # Django calls an action even on an empty selection

                with mock.patch.object(type(model_admin), action_name, spy):
                    check(
                        role,
                        "post",
                        changelist,
                        lambda r: r.status_code in (200, 302, 403),
                        "the changelist",
                        {"action": action_name, "_selected_action": [obj.pk], "index": 0},
                    )
                if calls and not allowed:
                    problems.append(f"admin action {action_name} ran for {role} on {'own' if mine else 'another company'}'s row")
                if allowed and role == roles_admin() and not calls:
                    problems.append(f"admin action {action_name} did not run for an administrator on the own row")
    assert not problems, "\n".join(problems)


def roles_admin():
    from ledger.models import Role

    return Role.ADMINISTRATOR


assert roles.VIEW  # the permissions the ACCESS table names come from ledger.roles
