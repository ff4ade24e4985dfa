"""Settings for changemgmt, read from the environment (every variable is listed in the README).

Embedded defaults (no server needed): SQLite in var/, kombu's filesystem:// broker in var/broker,
a file cache in var/cache. Production sets DATABASE_URL and REDIS_URL.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CHANGEMGMT_VAR_DIR", BASE_DIR / "var"))


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def env_bool(name, default=False):
    """A yes/no variable. A value that is neither ("ture") stops the start instead of reading as
    "no": a typo in SECURE_SSL_REDIRECT or AXES_ENABLED must not quietly turn a protection off."""
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use 1/0, true/false, yes/no or on/off."
    )


def env_int(name, default: int) -> int:
    """A whole-number variable; a value that is not one names the variable instead of a bare
    ValueError from deep inside the settings import."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = os.environ["SECRET_KEY"]
else:
    SECRET_KEY = os.environ.get(
        "SECRET_KEY", "dev-only-insecure-key-never-use-in-production-0123456789"
    )

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "simple_history",
    "axes",
    "pgtrigger",
    "changemgmt.audit",
    "changemgmt.catalog",
    "changemgmt.tickets",
    "changemgmt.windows",
    "changemgmt.killswitches",
    "changemgmt.rollouts",
    "changemgmt.reporting",
    "changemgmt.web",
]

MIDDLEWARE = [
    "changemgmt.web.middleware.MachineDocumentMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "changemgmt.web.hostile_input.HostileInputMiddleware",  # before anything parses a body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # before the two below: they answer htmx differently
    "changemgmt.web.middleware.AbsoluteSessionTimeoutMiddleware",
    "changemgmt.web.middleware.LoginRequiredMiddleware",
    "changemgmt.web.middleware.LazyMessageMiddleware",
    "changemgmt.web.middleware.ViewerTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "changemgmt.urls"
WSGI_APPLICATION = "changemgmt.wsgi.application"

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
                "changemgmt.web.context_processors.roles",
                "changemgmt.web.context_processors.zones",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for the write lock rather than fail.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "changemgmt.web.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "changemgmt"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sessions: 30 minutes idle, 8 hours absolute (changemgmt.web.middleware).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 1800)
# Saved only when changed; the idle clock moves at most once a minute (web/middleware.py).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_TOUCH_SECONDS = env_int("SESSION_TOUCH_SECONDS", 60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# Login throttling: django-axes locks a username+IP after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "changemgmt.web.throttle.attempted_username"
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION  # serve straight from static/ without collectstatic
if not PRODUCTION:
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing root otherwise
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "changemgmt.api_schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "changemgmt.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "changemgmt.web.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "changemgmt API",
    "DESCRIPTION": "Change tickets, CAB votes, ramps, kill switches and the gateway policy.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are for signed-in users and tokens, like the rest of /api/ (gateways
    # excepted: they read their policy and nothing else).
    "SERVE_PERMISSIONS": ["changemgmt.api_permissions.ApiDocsReader"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from static/ (drf-spectacular-sidecar): no CDN, the docs work air-gapped.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The gateway documents are plain Django views; the hook documents them and their signature.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "changemgmt.killswitches.schema.add_gateway_documents",
    ],
}

# History: the acting user and a reason on every row; no revert (it would bypass the state machine).
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# django-pgtrigger: append-only history tables on PostgreSQL, installed after migrate.
PGTRIGGER_INSTALL_ON_MIGRATE = True
PGTRIGGER_MIGRATIONS = False

# Celery: Redis when REDIS_URL is set, else kombu's filesystem transport (no server needed).
# No task may run longer than CELERY_TASK_TIME_LIMIT (prefork kills it; the sweeper's next tick
# picks up where it stopped, since it evaluates "as of now"), and no retry waits longer than
# CELERY_MAX_RETRY_COUNTDOWN. Redis redelivers a message left unacked (its worker was SIGKILLed)
# after the visibility timeout: a little over the longest of those two, so a lost message comes
# back in minutes, not an hour, and a running or waiting one is never delivered twice.
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "300"))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 15
CELERY_MAX_RETRY_COUNTDOWN = 300
CELERY_VISIBILITY_TIMEOUT = max(CELERY_TASK_TIME_LIMIT, CELERY_MAX_RETRY_COUNTDOWN) + 60
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Publishing must not hang a web request while the broker is down: fail fast, and let the
# callers' outbox (pending rows swept by beat) send the work once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Signed checkpoints of the audit chain's head (changemgmt.audit.checkpoints): the Ed25519 key
# (a PEM value or a PEM file) is never in the database, and the sink is a file it cannot write.
AUDIT_CHECKPOINT_KEY = os.environ.get(
    "AUDIT_CHECKPOINT_KEY", str(VAR_DIR / "audit-checkpoint-key.pem")
)
AUDIT_CHECKPOINT_FILE = os.environ.get(
    "AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl")
)
AUDIT_CHECKPOINT_WEBHOOK = os.environ.get("AUDIT_CHECKPOINT_WEBHOOK", "")
# How long the first answer to a POST with an Idempotency-Key is replayed (audit.idempotency).
IDEMPOTENCY_KEY_TTL = int(os.environ.get("IDEMPOTENCY_KEY_TTL", "86400"))  # seconds
AUDIT_CHECKPOINT_INTERVAL = int(os.environ.get("AUDIT_CHECKPOINT_INTERVAL", "900"))  # seconds
CELERY_BEAT_SCHEDULE = {
    "advance-rollouts": {
        "task": "changemgmt.rollouts.tasks.advance_rollouts",
        "schedule": crontab(),  # every minute
        "options": {"expires": 55},
    },
    "sweep-tenant-switch-expiry": {
        "task": "changemgmt.killswitches.tasks.sweep_tenant_switch_expiry",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    "sweep-notification-outbox": {
        "task": "changemgmt.audit.tasks.sweep_notification_outbox",
        "schedule": crontab(),  # every minute
        "options": {"expires": 55},
    },
    "audit-checkpoint": {
        "task": "changemgmt.audit.tasks.audit_checkpoint",
        "schedule": AUDIT_CHECKPOINT_INTERVAL,
        "options": {"expires": AUDIT_CHECKPOINT_INTERVAL / 2},
    },
    "plan-game-days": {
        "task": "changemgmt.killswitches.tasks.plan_game_days",
        "schedule": crontab(minute=0, hour=6),
        "options": {"expires": 3600},
    },
}

# Notifications: email through Django's mail backend, and an optional JSON webhook.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # seconds, per SMTP operation
# Emails go out on a background thread of the process that committed the event, so a slow mail
# server never holds up the request (the outbox sweep sends what a dead process left behind).
NOTIFY_EMAIL_BACKGROUND = env_bool("NOTIFY_EMAIL_BACKGROUND", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "changemgmt@localhost")
NOTIFY_WEBHOOK_URL = os.environ.get("NOTIFY_WEBHOOK_URL", "")

# Ed25519 key that signs the gateway policy (PEM, PKCS8). Unset outside production: one is
# generated once and kept in the database, so every web process signs with the same key.
GATEWAY_SIGNING_KEY = os.environ.get("GATEWAY_SIGNING_KEY", "")
# A gateway answering POST /v1/chat (the reference gateway of `make run`): game days check an
# exercise's fallback through it. Empty: the check is not offered.
REFERENCE_GATEWAY_URL = os.environ.get("REFERENCE_GATEWAY_URL", "")

# Prometheus-backed guards (changemgmt.rollouts.prometheus). Unset: only push guards are offered.
PROMETHEUS_URL = os.environ.get("PROMETHEUS_URL", "").rstrip("/")
PROMETHEUS_BEARER_TOKEN = os.environ.get("PROMETHEUS_BEARER_TOKEN", "")
PROMETHEUS_TIMEOUT = float(os.environ.get("PROMETHEUS_TIMEOUT", "3"))  # seconds per query
PROMETHEUS_CONCURRENCY = int(os.environ.get("PROMETHEUS_CONCURRENCY", "16"))  # queries at once
PROMETHEUS_BATCH_SIZE = int(os.environ.get("PROMETHEUS_BATCH_SIZE", "100"))  # queries per request
PROMETHEUS_FAILURES_TO_HALT = int(os.environ.get("PROMETHEUS_FAILURES_TO_HALT", "5"))
# /metrics: readable by a `metrics` account's token, or from these addresses (CIDRs allowed).
METRICS_ALLOWED_IPS = [
    part.strip() for part in os.environ.get("METRICS_ALLOWED_IPS", "").split(",") if part.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

SILENCED_SYSTEM_CHECKS = []
