"""Settings from the environment: the embedded default, PostgreSQL + Redis, production mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG}))"
)


def run(env_overrides, *args):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CLOSEBOOKS_ENV", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="closebooks.settings")
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_nothing_set_is_the_embedded_default():
    result = run({}, "-c", PROBE)
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.sqlite3",
        "eager": True,
        "broker": "memory://",
        "debug": True,
    }


def test_service_urls_select_postgresql_and_redis():
    result = run({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/3"}, "-c", PROBE)
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.postgresql",
        "eager": False,
        "broker": "redis://127.0.0.1:6379/3",
        "debug": True,
    }


def test_production_mode_passes_check_deploy():
    result = run(
        {
            "CLOSEBOOKS_ENV": "production",
            "SECRET_KEY": "x" * 64 + "-production-grade-secret-for-the-check",
            "ALLOWED_HOSTS": "books.example.com",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/closebooks",
        },
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = run({"CLOSEBOOKS_ENV": "production", "ALLOWED_HOSTS": "books.example.com"}, "manage.py", "check")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
