"""Django settings, read from the environment only (12-factor); see docs/deploy.md."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("VEIN2VEIN_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("VEIN2VEIN_DEBUG")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "vein2vein.core.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_htmx",
    "ninja",
    "django_filters",
    "vein2vein.core",
    "vein2vein.documents",
    "vein2vein.training",
    "vein2vein.quality",
    "vein2vein.materials",
    "vein2vein.equipment",
    "vein2vein.chain",
    "vein2vein.manufacturing",
    "vein2vein.qc",
    "vein2vein.release",
    "vein2vein.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "vein2vein.core.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "vein2vein.core.middleware.IdleTimeoutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "vein2vein.core.middleware.RolesReadOnceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "vein2vein.core.middleware.CurrentSiteMiddleware",
    "vein2vein.core.middleware.PasswordChangeRequiredMiddleware",
    # Axes last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vein2vein.urls"
WSGI_APPLICATION = "vein2vein.wsgi.application"
ASGI_APPLICATION = "vein2vein.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vein2vein.web.context_processors.shell",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'vein2vein.db'}",
        # A web worker keeps its connection (a new PostgreSQL backend per request costs more
        # than most reads); checked before reuse, so a restarted database is reconnected.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so the audit chain's read-last-then-append
    # is serialised across processes; the timeout waits for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "vein2vein.core.passwords.Argon2idHasher",  # docs/adr/0003-argon2-parameters.md
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Lockout: 5 wrong passwords (logins and signatures together) are answered "incorrect"; the
# 6th locks the account (not the IP) until an administrator unlocks it.
LOCKOUT_TOLERATED_FAILURES = int(os.environ.get("VEIN2VEIN_LOCKOUT_FAILURES", "5"))
AXES_FAILURE_LIMIT = LOCKOUT_TOLERATED_FAILURES + 1
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = None  # stays locked until an administrator unlocks it
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False
# Locking by username is deliberate: cleanroom tablets are shared, so an IP lockout would shut
# out a whole suite; the requirement is that the *account* locks after 5 failures.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Idle timeout: the session expires after N minutes without a request.
SESSION_IDLE_MINUTES = int(os.environ.get("VEIN2VEIN_SESSION_IDLE_MINUTES", "15"))
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Saved at most once a minute (core.middleware.IdleTimeoutMiddleware), not on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Behind TLS in production (VEIN2VEIN_HTTPS=1): secure cookies, HSTS, redirect.
HTTPS = _env_bool("VEIN2VEIN_HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- time -----------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")  # default zone; each site shows its own
LANGUAGE_CODE = "en"
USE_I18N = False

# --- static files, served locally (sites are air-gapped) ------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Uploaded GMP files (document PDFs, instrument exports): never served directly, only through
# permission-checked views that verify their SHA-256.
MEDIA_ROOT = DATA_DIR / "files"
MEDIA_URL = "/files/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- background work ------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Periodic work (run `celery -A vein2vein beat` next to the worker, or the same commands by cron).
CELERY_BEAT_SCHEDULE = {
    "audit-checkpoint": {"task": "core.take_audit_checkpoint", "schedule": 3600.0},
    "documents-activate-due": {"task": "documents.activate_due_versions", "schedule": 3600.0},
    "chain-stability-clocks": {"task": "chain.check_stability_clocks", "schedule": 300.0},
}

MQTT_URL = os.environ.get("MQTT_URL", "")

# The audit seal key and the copy of every signed head checkpoint live outside the database
# (ADR 0002). Keep the key file on another volume, readable by the application user only.
AUDIT_SEAL_KEY_FILE = Path(
    os.environ.get("VEIN2VEIN_AUDIT_KEY_FILE", str(DATA_DIR / "audit_seal.key"))
)
AUDIT_CHECKPOINT_LOG = Path(
    os.environ.get("VEIN2VEIN_AUDIT_CHECKPOINT_LOG", str(DATA_DIR / "audit_checkpoints.jsonl"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "vein2vein": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        "axes": {"handlers": ["console"], "level": "WARNING"},
        # A 500's traceback in the server log: Django sends it only to mail_admins when DEBUG
        # is off, and an air-gapped site has no mail.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
