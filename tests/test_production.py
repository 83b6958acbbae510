"""The production run (issue 9): healthz, queue routing, the Redis cache, static files through
whitenoise's compressed manifest, and the SSL redirect that spares the load balancer's probe."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
SECRET = "x" * 64 + "-production-grade-secret-for-the-test"
PRODUCTION = {
    "CLOSEBOOKS_ENV": "production",
    "SECRET_KEY": SECRET,
    "ALLOWED_HOSTS": "books.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
}


def probe(env_overrides: dict, code: str) -> dict:
    """Run ``code`` in a fresh interpreter with these settings; it prints one JSON object."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CLOSEBOOKS_ENV", "DEBUG", "SECRET_KEY", "CELERY_QUEUE", "STATIC_ROOT"}
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="closebooks.settings")
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_answers_without_login_and_names_no_secret(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    body = response.content.decode()
    for secret in (settings.SECRET_KEY, settings.REDIS_URL, settings.DATABASES["default"]["NAME"]):
        assert secret not in body
    assert "no-cache" in response["Cache-Control"]


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_is_503_when_redis_does_not_answer(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "ok", "redis": "down"}
    assert "127.0.0.1:1" not in response.content.decode()


ROUTES = (
    "from closebooks.celery import app; import json; r = app.amqp.router; "
    "names = ['integrations.tasks.push_run', 'integrations.tasks.pull_inbound', 'integrations.tasks.pull_closed_dates', "
    "'reconciliation.tasks.build_proposal', 'reconciliation.tasks.finish_proposal', 'ledger.tasks.reflag_entries', "
    "'integrations.tasks.resume_stalled_runs']; "
    "print(json.dumps({n.split('.')[-1]: r.route({}, n)['queue'].name for n in names}))"
)


def test_syncs_and_reconciliation_have_their_own_queues():
    assert probe(PRODUCTION, ROUTES) == {
        "push_run": "sync",
        "pull_inbound": "sync",
        "pull_closed_dates": "sync",
        "build_proposal": "reconcile",
        "finish_proposal": "reconcile",
        "reflag_entries": "closebooks",
        "resume_stalled_runs": "closebooks",
    }


def test_one_isolated_queue_takes_every_task_for_tests_and_benches():
    """An isolated worker (CELERY_QUEUE) sees everything its tasks enqueue, resumed runs included."""
    routes = probe({**PRODUCTION, "CELERY_QUEUE": "test-abc"}, ROUTES)
    assert set(routes.values()) == {"test-abc"}


def test_production_shares_its_cache_through_redis_across_processes():
    """Several gunicorn workers must see one cache (the Web Connector's version between two calls)."""
    cache = probe(
        PRODUCTION,
        "from django.conf import settings; import json; print(json.dumps(settings.CACHES['default']))",
    )
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == PRODUCTION["REDIS_URL"]
    dev = probe({}, "from django.conf import settings; import json; print(json.dumps(settings.CACHES['default']))")
    assert dev["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_static_files_are_hashed_and_compressed_in_production(tmp_path):
    out = probe(
        {**PRODUCTION, "STATIC_ROOT": str(tmp_path)},
        "from django.core.management import call_command; import json, os\n"
        "call_command('collectstatic', '--noinput', verbosity=0)\n"
        "from django.contrib.staticfiles.storage import staticfiles_storage as s\n"
        "url = s.url('css/app.css')\n"
        "print(json.dumps({'url': url, 'gz': os.path.exists(os.path.join(s.location, url.split('/static/')[1] + '.gz'))}))",
    )
    assert out["url"].startswith("/static/css/app.") and out["url"] != "/static/css/app.css"
    assert out["gz"] is True


@pytest.mark.django_db
def test_production_redirects_to_https_except_the_health_probe():
    db = settings.DATABASES["default"]
    out = probe(
        {**PRODUCTION, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"},
        "from django.test import Client; import json; c = Client(HTTP_HOST='books.example.com')\n"
        "h = c.get('/healthz/'); l = c.get('/login/')\n"
        "print(json.dumps({'healthz': h.status_code, 'login': l.status_code, 'to': l.get('Location', '')}))",
    )
    assert out == {"healthz": 200, "login": 301, "to": "https://books.example.com/login/"}
