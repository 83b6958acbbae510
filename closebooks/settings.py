"""closebooks settings, read from the environment.

Nothing set: the embedded default (SQLite, Celery tasks run in-process, DEBUG on).
DATABASE_URL / REDIS_URL set: PostgreSQL through psycopg 3 and Celery on Redis.
CLOSEBOOKS_ENV=production: the hardened mode that passes ``manage.py check --deploy``.
Every setting is listed in README.md.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


PRODUCTION = env("CLOSEBOOKS_ENV", "development") == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)

SECRET_KEY = env("SECRET_KEY")
if SECRET_KEY is None:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when CLOSEBOOKS_ENV=production.")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for FORM_RENDERER below
    "guardian",
    "axes",
    "csp",
    "django_filters",
    "ninja",  # the API's OpenAPI page: its static files and template
    "ledger",
    "integrations",
    "reconciliation",
    "closebooks",
    "closebooks.month_end",
    "closebooks.checklist",
    "closebooks.notifications",
    "closebooks.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "closebooks.middleware.RejectNulInputMiddleware",
    "closebooks.api.middleware.ApiCallLogMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out sign-in with 429
]

ROOT_URLCONF = "closebooks.urls"
WSGI_APPLICATION = "closebooks.wsgi.application"
ASGI_APPLICATION = "closebooks.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "closebooks.notifications.context_processors.unread",
            ],
        },
    },
]

# Forms render through the project's template engine, so templates/django/forms/ can replace
# Django's widget templates with leaner ones (select options inline: the journal's filter form
# rendered in 5.3 ms instead of 6.5 ms).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(env("CONN_MAX_AGE", "60")))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Writers wait for each other instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Month-wide aggregates (flags, trial balance) hash a million lines; PostgreSQL's 4 MB
    # default makes them spill to disk and run 3-4 times slower.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c work_mem={env('PG_WORK_MEM', '64MB')}"
    DATABASES["default"].setdefault("TEST", {})
    if env("TEST_DATABASE_NAME"):
        DATABASES["default"]["TEST"]["NAME"] = env("TEST_DATABASE_NAME")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in before any password is checked
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous visitors see nothing
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The product is in English only: without the translation machinery every number and date a page
# prints skips a per-value language lookup (measured ~8% of a page's rendering under load).
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Celery: on Redis when REDIS_URL is set, otherwise tasks run in-process (the embedded default).
REDIS_URL = env("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Three queues, so syncs, reconciliation and everything else get their own workers when scaled
# out (docs/production.md): `sync` (vendor pushes and pulls), `reconcile` (proposal build and
# finish), and the default queue (beat's fan-out, reflagging). CELERY_QUEUE set (tests, benches):
# every task goes to that one queue, so an isolated worker on it sees all the work it causes.
CELERY_SINGLE_QUEUE = env("CELERY_QUEUE")
CELERY_TASK_DEFAULT_QUEUE = CELERY_SINGLE_QUEUE or "closebooks"
CELERY_SYNC_QUEUE = CELERY_SINGLE_QUEUE or "sync"
CELERY_RECONCILE_QUEUE = CELERY_SINGLE_QUEUE or "reconcile"
CELERY_TASK_ROUTES = {
    "integrations.tasks.push_run": {"queue": CELERY_SYNC_QUEUE},
    "integrations.tasks.pull_accounts": {"queue": CELERY_SYNC_QUEUE},
    "integrations.tasks.pull_closed_dates": {"queue": CELERY_SYNC_QUEUE},
    "integrations.tasks.pull_inbound": {"queue": CELERY_SYNC_QUEUE},
    "reconciliation.tasks.*": {"queue": CELERY_RECONCILE_QUEUE},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than any task including its retries and countdowns, or Redis redelivers them in a loop.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "21600"))}
CELERY_TIMEZONE = "UTC"

# The cache: Redis in production, so every web process and worker sees the same entries (the
# Web Connector's client version between its two calls, anything cached later); a process-local
# cache would differ per gunicorn worker. Development and tests keep the in-process default.
if PRODUCTION and REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("CACHE_URL", REDIS_URL),
            "KEY_PREFIX": "closebooks",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions are read from the cache first and written through to PostgreSQL: one query less on
# every page, and a session survives a cache flush (docs/production.md, "Scaling out").
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Records are also redacted where they are made (closebooks.logredact.install); the filter covers
    # records a handler gets from a process where the app did not start (e.g. a bare celery import).
    "filters": {"redact_secrets": {"()": "closebooks.logredact.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Sign-in throttling (django-axes): the app's sign-in page, the admin's, and the Web Connector's
# authenticate call all count. A username is locked after AXES_FAILURE_LIMIT failures from one
# address (so nobody elsewhere can lock a colleague out), for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = int(env("AXES_PROXY_COUNT", "1" if PRODUCTION else "0"))  # the proxy in front sets X-Forwarded-For
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if PRODUCTION else ["REMOTE_ADDR"]

# Content-Security-Policy (django-csp): scripts, styles and everything else from this site only;
# no inline script or style, no framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # load balancers probe over plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off only for `make prod` / `make load` on loopback HTTP, where no browser sends Secure cookies.
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# ---------------------------------------------------------------- integrations (issue 5)
# The vendors' OAuth client and URLs. The defaults are the fake vendors' credentials; a real
# deployment sets the *_CLIENT_ID/SECRET and URL variables to the vendor's production values.
INTEGRATIONS_PROVIDERS = {
    "qbo": {
        "client_id": env("QBO_CLIENT_ID", "closebooks-dev-client"),
        "client_secret": env("QBO_CLIENT_SECRET", "closebooks-dev-secret"),
        "authorize_url": env("QBO_AUTHORIZE_URL", "https://appcenter.intuit.com/connect/oauth2"),
        "token_url": env("QBO_TOKEN_URL", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"),
        "api_base_url": env("QBO_API_BASE_URL", "https://quickbooks.api.intuit.com"),
    },
    "xero": {
        "client_id": env("XERO_CLIENT_ID", "closebooks-dev-client"),
        "client_secret": env("XERO_CLIENT_SECRET", "closebooks-dev-secret"),
        "authorize_url": env("XERO_AUTHORIZE_URL", "https://login.xero.com/identity/connect/authorize"),
        "token_url": env("XERO_TOKEN_URL", "https://identity.xero.com/connect/token"),
        "api_base_url": env("XERO_API_BASE_URL", "https://api.xero.com/api.xro/2.0"),
        "connections_url": env("XERO_CONNECTIONS_URL", "https://api.xero.com/connections"),
    },
}
# Fernet keys for tokens at rest, newest first; unset: one key derived from SECRET_KEY.
INTEGRATIONS_FERNET_KEYS = env_list("INTEGRATIONS_FERNET_KEYS", [])
# Keep each vendor's documented quotas globally (in Redis, across all workers). Off only to measure our own overhead.
INTEGRATIONS_RATE_LIMITS = env_bool("INTEGRATIONS_RATE_LIMITS", True)
CELERY_BEAT_SCHEDULE = {
    "integrations-pull-closed-dates": {"task": "integrations.tasks.pull_closed_dates", "schedule": 3600.0},
    "integrations-pull-inbound": {"task": "integrations.tasks.pull_inbound", "schedule": 900.0},
    "integrations-resume-stalled-runs": {"task": "integrations.tasks.resume_stalled_runs", "schedule": 300.0},
}

# Integrations II: Sage Intacct (client_id/secret = the Web Services sender id and password) and NetSuite.
INTEGRATIONS_PROVIDERS["intacct"] = {
    "client_id": env("INTACCT_SENDER_ID", "closebooks-dev-client"),
    "client_secret": env("INTACCT_SENDER_PASSWORD", "closebooks-dev-secret"),
    "authorize_url": "",
    "token_url": "",
    "api_base_url": env("INTACCT_API_BASE_URL", "https://api.intacct.com"),
}
INTEGRATIONS_PROVIDERS["netsuite"] = {
    "client_id": env("NETSUITE_CLIENT_ID", "closebooks-dev-client"),
    "client_secret": env("NETSUITE_CLIENT_SECRET", "closebooks-dev-secret"),
    "authorize_url": env("NETSUITE_AUTHORIZE_URL", "https://system.netsuite.com/app/login/oauth2/authorize.nl"),
    # Per account: {account} is replaced by the account id the OAuth redirect returns (as a host label),
    # and the connection keeps the result. A URL without {account} (a fake vendor) is used as it is.
    "token_url": env("NETSUITE_TOKEN_URL", "https://{account}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"),
    "api_base_url": env("NETSUITE_API_BASE_URL", "https://{account}.suitetalk.api.netsuite.com"),
    "connections_url": env("NETSUITE_RESTLET_BASE_URL", "https://{account}.restlets.api.netsuite.com"),
}
# QuickBooks Desktop has no vendor URL: its Web Connector polls closebooks (integrations/qbwc/).
INTEGRATIONS_PROVIDERS["qbd"] = {"client_id": "", "client_secret": "", "authorize_url": "", "token_url": "", "api_base_url": ""}

# ---------------------------------------------------------------- checklist, notifications, API (issue 20)
# Email: the console in development (`make run` prints each email), SMTP in production.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "closebooks <closebooks@localhost>")
# Where links in emails point: the address people open closebooks at.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
# API: calls per window per key, and bad keys per minute per address before it is slowed down.
API_RATE_LIMIT = int(env("API_RATE_LIMIT", "600"))
API_RATE_WINDOW = int(env("API_RATE_WINDOW", "60"))
API_BAD_KEY_LIMIT = int(env("API_BAD_KEY_LIMIT", "20"))
# Webhooks: private and loopback addresses are refused in production (no requests into the
# deployment's own network); development allows them, so a receiver on this machine can be tried.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", not PRODUCTION)
WEBHOOKS_TIMEOUT = float(env("WEBHOOKS_TIMEOUT", "5"))
NINJA_NUM_PROXIES = AXES_IPWARE_PROXY_COUNT
CELERY_BEAT_SCHEDULE.update(
    {
        "checklist-daily": {"task": "closebooks.checklist.tasks.daily", "schedule": 3600.0},
        "notifications-watch-checks": {"task": "closebooks.notifications.tasks.watch_checks", "schedule": 3600.0},
        "notifications-resend-pending": {"task": "closebooks.notifications.tasks.resend_pending_emails", "schedule": 600.0},
        "webhooks-resend-stale": {"task": "closebooks.api.tasks.resend_stale_webhooks", "schedule": 1800.0},
    }
)
