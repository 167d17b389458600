"""Tend's settings: one file, driven by the environment.

Development defaults are safe and need no services (SQLite, a filesystem
Celery broker, email printed to the console). With ``DEBUG`` off the
production values (``SECRET_KEY``, ``ALLOWED_HOSTS``, ``SITE_URL``,
``SMTP_HOST``) are required and the app refuses to start without them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import timezones

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


# The test run imports pytest before settings; it gets the same safe
# defaults as development, but no HTTPS redirects (the live server is HTTP).
TESTING = "pytest" in sys.modules

DEBUG = env_bool("DEBUG", False)
PRODUCTION = not DEBUG and not TESTING

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

# Old keys still accepted for signatures while a new SECRET_KEY settles in.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

# Absolute links in emails are built from SITE_URL (tasks have no request).
SITE_URL = (env_str("SITE_URL") or ("" if PRODUCTION else "http://localhost:8000")).rstrip("/")
# A plain-http try-out (SECURE_SSL_REDIRECT=false) may use an http:// address.
_HTTPS_ONLY = env_bool("SECURE_SSL_REDIRECT", True)
if PRODUCTION and not SITE_URL.startswith("https://" if _HTTPS_ONLY else "http"):
    raise ImproperlyConfigured(
        "SITE_URL must be set to the https:// address of the site "
        "(http:// only with SECURE_SSL_REDIRECT=false)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL] if PRODUCTION else [])

INSTALLED_APPS = [
    "config.apps.TendAdminConfig",  # django.contrib.admin, logging in through allauth
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "allauth",
    "allauth.account",
    "accounts",
    "couples",
    "rituals",
    "exercises",
    # Above the others: pages that compose them (the dashboard, our rhythm, the export).
    "home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise: every response but static files says "private, no-store".
    "config.middleware.PrivateResponsesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's auth middleware, with request.user read by the one viewer query.
    "couples.viewer.ViewerMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    # Whole member pages from the cache while nothing they show has changed.
    "couples.pages.CachedPagesMiddleware",
    # Last, so its 400 page has the user, the messages and the CSP nonce.
    "config.middleware.UnreadableBodyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# Django's widget templates, with the ones every form repeats done in Python
# (identical output, a fraction of the CPU): config/forms.py.
FORM_RENDERER = "config.forms.FastRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # Placeholders for the token and nonce in pages kept whole (couples.pages).
                "couples.pages.placeholders",
            ],
            "builtins": [
                "exercises.templatetags.exercises_tags",
                "couples.templatetags.couple_fragments",
                "home.templatetags.site",
            ],
        },
    },
]

# Database: PostgreSQL when DATABASE_URL is set, SQLite otherwise.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            # A ping before each request's first query; off saves a round trip
            # per poll at the price of one failed request after a dropped connection.
            conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
        )
    }
    # Parameters bound by the server, and a statement run twice on a connection
    # is prepared: PostgreSQL stops parsing and planning the same few queries
    # on every request (measured: half the database CPU of marking a ritual
    # kept, benchmarks/README.md). Off behind a PgBouncer in transaction mode
    # older than 1.21, which can't carry prepared statements.
    postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if postgresql and env_bool("DB_SERVER_SIDE_BINDING", True):
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
    # Under an ASGI server every request runs in a thread of its own, so a
    # connection kept per thread (DB_CONN_MAX_AGE) is a new connection per
    # request: a pool per process hands them on instead (docker-compose sets it).
    if postgresql and env_bool("DB_POOL", False):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": 10,
        }
    # Lets two test runs share one PostgreSQL server without dropping each other's database.
    if env_str("TEST_DATABASE_NAME"):
        DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "tend.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file, not shared-cache memory, so threads in tests wait for
            # each other's write locks as separate processes would.
            "TEST": {"NAME": BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by every process, which the
# rate limits need), local memory otherwise. Two aliases, which differ only
# in what they do while Redis is out of reach (config/cache.py): "default"
# (rate limits) counts in this process's memory, "copies" (sessions, page
# regions) misses, so the page is served from PostgreSQL.
REDIS_URL = env_str("REDIS_URL")
# Connect and read timeouts of every Redis command the web sends: a frozen
# Redis costs a request at most this, once per process, then nothing.
REDIS_TIMEOUT = env_int("REDIS_TIMEOUT_MS", 250) / 1000
if REDIS_URL:
    from config.cache import redis_caches

    CACHES = redis_caches(REDIS_URL, timeout=REDIS_TIMEOUT)
else:
    _local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    CACHES = {"default": _local, "copies": _local}

# Sessions are read from the cache (Redis in production) and written through
# to the database: a page or poll costs no query to find who is asking. With
# Redis out of reach they are read from and written to the database alone.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "copies"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing strength is not under test; a fast hasher keeps the suite quick.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: email only, verified, rate limited.
ACCOUNT_ADAPTER = "home.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Tend: "
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}

# Limits per address (allauth's and Tend's) read the client's address from
# X-Forwarded-For, this many entries from its end, when reverse proxies that
# append to it stand in front; 0 takes the connecting address, which behind a
# proxy is the proxy's own, the same for everyone.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0) if PRODUCTION else 0
if ALLAUTH_TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# Tend's own rate limits, (count, seconds) per account, and a generous ceiling
# per address, which many people may share (couples/ratelimit.py).
TEND_RATE_LIMITS = {
    "invite_send": {"account": (10, 3600), "address": (60, 3600)},
    "invite_code": {"account": (10, 600), "address": (60, 600)},
}

# Email (Django 6.1 MAILERS). SMTP when SMTP_HOST is set, the console otherwise.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Tend <tend@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMTP_HOST = env_str("SMTP_HOST")
if SMTP_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": SMTP_HOST,
                "port": env_int("SMTP_PORT", 25),
                "username": env_str("SMTP_USER", ""),
                "password": env_str("SMTP_PASSWORD", ""),
                "use_tls": env_bool("SMTP_STARTTLS", False),
                "use_ssl": env_bool("SMTP_SSL", False),
                "timeout": env_int("SMTP_TIMEOUT", 20),
            },
        }
    }
elif PRODUCTION:
    raise ImproperlyConfigured("SMTP_HOST must be set when DEBUG is off.")
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# Celery: Redis when REDIS_URL is set; otherwise a broker that needs no
# server (the filesystem transport for development, memory in tests).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://" if TESTING else "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Redis as the broker: the web only publishes (an invitation email, after
# commit), and a frozen Redis must cost that request no more than the cache
# does: short timeouts and no retry (a reminder whose trigger is lost is
# queued again by the next tick; see docs/faults.md for invitations).
# Workers, which nobody waits on, get these settings instead at start-up
# (config/celery.py): longer timeouts, so a slow moment of Redis doesn't drop
# their connection and have their unacknowledged tasks redelivered, and
# Celery's publish retries, which save a trigger a two-minute wait.
TEND_CELERY_WORKER_SETTINGS = {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_TASK_PUBLISH_RETRY = False
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": REDIS_TIMEOUT,
        "socket_timeout": REDIS_TIMEOUT,
        "max_retries": 0,  # kombu would otherwise retry connecting for 4 s
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT
    TEND_CELERY_WORKER_SETTINGS = {
        "broker_transport_options": {"socket_connect_timeout": 5, "socket_timeout": 5},
        "broker_connection_timeout": 4,
        "task_publish_retry": True,
    }
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = BASE_DIR / "var" / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_queue_dir / "control"),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# One tick a minute, as a UTC interval: due work is found in the database,
# never scheduled as ETA tasks.
CELERY_BEAT_SCHEDULE = {
    "dispatch-reminders": {"task": "rituals.tasks.dispatch_reminders", "schedule": 60.0},
    "invitation-emails": {"task": "couples.tasks.queue_owed_invitation_emails", "schedule": 60.0},
    "data-exports": {"task": "home.tasks.sweep_data_exports", "schedule": 60.0},
}
# Unit tests run tasks in-process when they are enqueued; the integration
# tests turn this off and run a real worker.
CELERY_TASK_ALWAYS_EAGER = TESTING
CELERY_TASK_EAGER_PROPAGATES = TESTING
if TESTING:
    # A development worker on the same Redis must not take the tests' tasks.
    CELERY_TASK_DEFAULT_QUEUE = "tend-tests"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# What a person picks from: canonical IANA names only (config/timezones.py);
# a stored alias such as US/Pacific is shown and saved as its zone.
TIME_ZONES = list(timezones.canonical_names())

STATIC_URL = "/static/"
# Collected files exist only in production builds; elsewhere whitenoise
# serves straight from the app and static/ folders.
STATIC_ROOT = BASE_DIR / "var" / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "config.storage.StaticStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Security. No inline script anywhere: scripts load from our origin with a nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SECURE_SSL_REDIRECT = _HTTPS_ONLY
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Live pages (exercises/stream.py): a comment line on every idle stream this
# often keeps proxies from closing it, and re-checks its viewer and version.
LIVE_HEARTBEAT_SECONDS = env_int("LIVE_HEARTBEAT_SECONDS", 15)
# Without PostgreSQL's LISTEN (SQLite): how often every stream looks again.
LIVE_RECHECK_SECONDS = env_int("LIVE_RECHECK_SECONDS", 1)
# Threads (and so database connections) per process that all streams share.
LIVE_DATABASE_THREADS = env_int("LIVE_DATABASE_THREADS", 4)

# The load benchmark's reference page (config/ceiling.py); off unless asked for.
BENCHMARK_CEILING = env_bool("BENCHMARK_CEILING", False)
if BENCHMARK_CEILING:
    # Outermost, so /bench/bare/ pays no other middleware (config/ceiling.py).
    MIDDLEWARE.insert(0, "config.ceiling.BareCeilingMiddleware")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
