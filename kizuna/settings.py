"""Kizuna settings: read from the environment only (README lists every variable).

Defaults work on a laptop (SQLite under var/, mail kept in the development outbox). With
KIZUNA_DEBUG off, what production must set (SECRET_KEY, ALLOWED_HOSTS) stops start-up when missing.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("KIZUNA_DEBUG", False)
VAR_DIR = Path(env_str("KIZUNA_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def development_secret_key() -> str:
    """One random key per checkout, generated once into var/ so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string in production "
            "(or set KIZUNA_DEBUG=true on a development machine)."
        )
    SECRET_KEY = development_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. Set it to the host names Kizuna is served under, "
            "separated by commas, e.g. ALLOWED_HOSTS=crm.example.co.jp."
        )
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env_list("KIZUNA_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Ours first, so that our templates (errors, allauth screens) win.
    "kizuna.core",
    "kizuna.accounts",
    "kizuna.crm",
    "kizuna.tracking",
    "kizuna.segments",
    "kizuna.members",
    "kizuna.content",
    "kizuna.console",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "django_htmx",
    "django_tasks_db",
    "huey.contrib.djhuey",
]

MIDDLEWARE = [
    "log_request_id.middleware.RequestIDMiddleware",
    "kizuna.core.middleware.RejectNulCharactersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "kizuna.accounts.middleware.StaffTwoFactorMiddleware",
    "kizuna.tracking.middleware.TrackingMiddleware",
]

ROOT_URLCONF = "kizuna.urls"
WSGI_APPLICATION = "kizuna.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kizuna.tracking.context_processors.tracking_consent",
                "kizuna.content.context_processors.announcement_banner",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", "sqlite:///var/kizuna.sqlite3")
_database = dj_database_url.parse(DATABASE_URL)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _name = Path(_database["NAME"])
    if str(_name) != ":memory:" and not _name.is_absolute():
        _database["NAME"] = str(BASE_DIR / _name)
        (BASE_DIR / _name).parent.mkdir(parents=True, exist_ok=True)
    _database["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock
        # at BEGIN, so two writers wait for each other instead of failing half-way.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file, not memory: the tests start real worker processes on it.
    # One per test run (process id), so that two runs in the same checkout never share it.
    _database["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    # Keep each thread's connection: reopening it (and its PRAGMAs) cost a third of a page.
    _database["CONN_MAX_AGE"] = env_int("KIZUNA_DB_CONN_MAX_AGE", 60)
elif _database["ENGINE"] == "django.db.backends.postgresql":
    if env_bool("KIZUNA_DB_POOL", False):
        _database["OPTIONS"] = {
            "pool": {"min_size": 2, "max_size": env_int("KIZUNA_DB_POOL_SIZE", 10)}
        }
    else:
        _database["CONN_MAX_AGE"] = env_int("KIZUNA_DB_CONN_MAX_AGE", 60)
        _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, tasks -------------------------------------------------------------------------------

REDIS_URL = env_str("KIZUNA_REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # Sessions read from the shared cache, written through to the database: no session query on
    # a logged-in page. Only with Redis: a per-process cache would keep serving, in the other
    # processes, a session that was ended (log-out, "end other sessions", withdrawal).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASK_BACKEND = env_str("KIZUNA_TASK_BACKEND", "database")
if TASK_BACKEND not in {"database", "huey"}:
    raise ImproperlyConfigured(
        f"KIZUNA_TASK_BACKEND must be database or huey, not {TASK_BACKEND!r}."
    )
TASKS = {
    "default": (
        {"BACKEND": "django_tasks_db.DatabaseBackend"}
        if TASK_BACKEND == "database"
        else {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend", "ENQUEUE_ON_COMMIT": True}
    )
}
# The scale-out path: a Redis queue consumed by `manage.py worker` on any number of machines.
HUEY = {
    "huey_class": "huey.RedisHuey",
    "name": env_str("KIZUNA_HUEY_NAME", "kizuna"),
    "immediate": False,
    "connection": {"url": REDIS_URL or "redis://127.0.0.1:6379/0"},
    "consumer": {"workers": env_int("KIZUNA_WORKER_THREADS", 2), "worker_type": "thread"},
}
# A task still "running" with no heartbeat from its worker for this long is run again.
KIZUNA_WORKER_HEARTBEAT_TIMEOUT = env_int("KIZUNA_WORKER_HEARTBEAT_TIMEOUT", 60)
# A bulk update of up to this many contacts runs during the request; a larger one as a task.
KIZUNA_BULK_INLINE_ROWS = env_int("KIZUNA_BULK_INLINE_ROWS", 1000)

# Tracking: accepted events go to a local spool, a writer thread stores them every FLUSH seconds
# ("thread"); "off" leaves the spool to the worker's periodic job.
KIZUNA_TRACKING_SPOOL_DIR = Path(
    env_str("KIZUNA_TRACKING_SPOOL_DIR") or VAR_DIR / "spool" / "tracking"
)
KIZUNA_TRACKING_WRITER = env_str("KIZUNA_TRACKING_WRITER", "thread")
if KIZUNA_TRACKING_WRITER not in ("thread", "off"):
    raise ImproperlyConfigured(
        f"KIZUNA_TRACKING_WRITER must be thread or off, not {KIZUNA_TRACKING_WRITER!r}."
    )
KIZUNA_TRACKING_FLUSH_SECONDS = float(env_str("KIZUNA_TRACKING_FLUSH_SECONDS", "0.2"))
# Requests per minute and IP on /t/collect and /t/p.gif (0: no limit, e.g. behind a CDN).
KIZUNA_COLLECT_LIMIT_PER_MINUTE = env_int("KIZUNA_COLLECT_LIMIT_PER_MINUTE", 600)

# --- Accounts -----------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Minimum length and required kinds of character, as staff set them in the console.
    {"NAME": "kizuna.members.passwords.SitePasswordPolicyValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/mypage/"
ACCOUNT_ADAPTER = "kizuna.members.adapters.MemberAccountAdapter"
ACCOUNT_FORMS = {"signup": "kizuna.members.forms.SignupForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# A field people do not see; a bot that fills it is answered "check your email" and nothing more.
ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD = "website"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = env_int("KIZUNA_CONFIRMATION_EXPIRE_DAYS", 3)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False  # the other sessions end; this one stays
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_CHANGE_EMAIL = True  # a new address replaces the old one only once confirmed
ACCOUNT_EMAIL_NOTIFICATIONS = True  # "your password / email was changed" mails
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_RATE_LIMITS = {
    # Failed log-ins per IP and per account (allauth counts them in the cache; they expire).
    "login_failed": env_str("KIZUNA_LOGIN_FAILED_LIMIT", "10/m/ip,5/5m/key"),
    "signup": env_str("KIZUNA_SIGNUP_LIMIT", "5/10m/ip"),
    # Ours (kizuna.members.forms): sign-ups per email domain, so that a flood from many IPs
    # with one throw-away domain stops too.
    "signup_domain": env_str("KIZUNA_SIGNUP_DOMAIN_LIMIT", "20/h/key"),
    # A confirmation mail to one address at most every 3 minutes, 5 a day.
    "confirm_email": "1/3m/key,5/d/key",
}
# allauth reads the client's IP from X-Forwarded-For only behind our own proxy (one hop), so a
# forged header cannot dodge the rate limits.
ALLAUTH_TRUSTED_PROXY_COUNT = 1 if env_bool("KIZUNA_BEHIND_PROXY", False) else 0
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Kizuna"
USERSESSIONS_TRACK_ACTIVITY = False  # the session list needs no write per request
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # reset and invitation links work for 3 days
# Protected content files: served by Django, or handed to the web server in front ("nginx":
# X-Accel-Redirect to KIZUNA_FILE_SERVER_PREFIX + the file's path; "apache": X-Sendfile).
KIZUNA_FILE_SERVER = env_str("KIZUNA_FILE_SERVER", "")
KIZUNA_FILE_SERVER_PREFIX = env_str("KIZUNA_FILE_SERVER_PREFIX", "/protected").rstrip("/")
if KIZUNA_FILE_SERVER not in ("", "nginx", "apache"):
    raise ImproperlyConfigured(
        f"KIZUNA_FILE_SERVER must be empty, nginx or apache, not {KIZUNA_FILE_SERVER!r}."
    )
# Download links in emails stop working after this many days.
KIZUNA_FILE_LINK_DAYS = env_int("KIZUNA_FILE_LINK_DAYS", 14)
# Links in mail sent without a request (invitations from a background task).
KIZUNA_SITE_URL = env_str("KIZUNA_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# A sign-up form posted faster than this is a bot's (the honeypot catches the rest).
KIZUNA_SIGNUP_MIN_SECONDS = env_int("KIZUNA_SIGNUP_MIN_SECONDS", 3)

# --- Internationalisation -----------------------------------------------------------------------

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("KIZUNA_TIME_ZONE", "Asia/Tokyo")
USE_TZ = True
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and uploaded files ------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing one before collectstatic
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Uploaded personal data (custom field files, import files): no URL, served by checked views.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "private", "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email --------------------------------------------------------------------------------------


def mailer_from_url(url: str) -> dict:
    """smtp://user:password@host:587?tls=true (smtps:// for implicit TLS) -> a MAILERS entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            f"Email URLs start with smtp:// or smtps://, not {parts.scheme}://."
        )
    query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
    options = {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_ssl": parts.scheme == "smtps",
        "use_tls": query.get("tls") in {"1", "true", "yes"},
        "timeout": 30,
    }
    return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}


def mailer_from_environment(url_variable: str, fallback: dict | None = None) -> dict:
    if url := env_str(url_variable):
        return mailer_from_url(url)
    if fallback is not None:
        return fallback
    if backend := env_str("EMAIL_BACKEND"):
        return {"BACKEND": backend}
    # No SMTP server configured: keep mail in the development outbox, readable in the console.
    return {"BACKEND": "kizuna.core.outbox.OutboxBackend"}


_transactional_mailer = mailer_from_environment("EMAIL_URL")
# Transactional mail (confirmations, resets) and campaigns go through separate mailers, so that
# a provider's limit on campaigns never blocks a password reset.
MAILERS = {
    "default": _transactional_mailer,
    "transactional": _transactional_mailer,
    "marketing": mailer_from_environment("KIZUNA_MARKETING_EMAIL_URL", _transactional_mailer),
}
DEFAULT_FROM_EMAIL = env_str("KIZUNA_DEFAULT_FROM_EMAIL", "Kizuna <noreply@kizuna.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security -----------------------------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy (the usual production set-up) trust its X-Forwarded-Proto.
KIZUNA_BEHIND_PROXY = env_bool("KIZUNA_BEHIND_PROXY", False)
if KIZUNA_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env_bool("KIZUNA_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("KIZUNA_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KIZUNA_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("KIZUNA_HSTS_PRELOAD", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ------------------------------------------------------------------------------------

LOG_REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
GENERATE_REQUEST_ID_IF_NOT_IN_HEADER = True
REQUEST_ID_RESPONSE_HEADER = "X-Request-ID"
LOG_LEVEL = env_str("KIZUNA_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "log_request_id.filters.RequestIDFilter"}},
    "formatters": {
        # One JSON object a line, which log collectors parse without configuration.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_id"],
            "formatter": env_str("KIZUNA_LOG_FORMAT", "json"),
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    # Django's own console handlers would print every line a second time.
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        # Huey adds its own handler to the root logger unless told otherwise; keep one JSON line.
        "huey": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}
