"""Dockyard settings: one module, every deployment choice comes from the environment.

See the configuration table in README.md for each variable.
"""

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from hub.workers import builds_queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


HUB_DATA_DIR = Path(os.environ.get("HUB_DATA_DIR", BASE_DIR / "var")).resolve()
HUB_DATA_DIR.mkdir(parents=True, exist_ok=True)

HUB_URL = os.environ.get("HUB_URL", "http://127.0.0.1:8000").rstrip("/")
HUB_NAME = os.environ.get("HUB_NAME", "Dockyard")
REGISTRY_HOST = os.environ.get("REGISTRY_HOST", "127.0.0.1:5000")
GITHUB_URL = os.environ.get("GITHUB_URL", "https://github.com").rstrip("/")
# The registry as the portal reaches it directly (not through the nginx front).
REGISTRY_URL = os.environ.get("REGISTRY_URL", "http://127.0.0.1:5001").rstrip("/")
REGISTRY_SERVICE = os.environ.get("REGISTRY_SERVICE", REGISTRY_HOST)
REGISTRY_TOKEN_ISSUER = os.environ.get("REGISTRY_TOKEN_ISSUER", "dockyard-token-issuer")
REGISTRY_TOKEN_LIFETIME = int(os.environ.get("REGISTRY_TOKEN_LIFETIME", "900"))
HUB_API_TOKEN_LIFETIME = int(os.environ.get("HUB_API_TOKEN_LIFETIME", str(24 * 3600)))
# The portal as the registry and its nginx front reach it.
PORTAL_INTERNAL_URL = os.environ.get("PORTAL_INTERNAL_URL", HUB_URL).rstrip("/")
_hub = urlsplit(HUB_URL)
HUB_USES_HTTPS = _hub.scheme == "https"
# Whether REGISTRY_HOST is served over HTTPS (TLS terminated in front of nginx): builds push to
# it, and pull their FROM images from it, with or without TLS accordingly.
REGISTRY_TLS = env_bool("REGISTRY_TLS", HUB_USES_HTTPS)


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = HUB_DATA_DIR / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting at once must not write different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(64))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# The registry authenticates its event notifications with this header value.
REGISTRY_EVENTS_SECRET = (
    os.environ.get("REGISTRY_EVENTS_SECRET")
    or hmac.new(SECRET_KEY.encode(), b"registry-events", hashlib.sha256).hexdigest()
)
DEBUG = env_bool("DEBUG")
# nginx passes the registry's host name on for /v1/ (search), so it is one of the portal's.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or [
    _hub.hostname,
    urlsplit(f"//{REGISTRY_HOST}").hostname,
    "127.0.0.1",
    "localhost",
]
CSRF_TRUSTED_ORIGINS = [f"{_hub.scheme}://{_hub.netloc}", *env_list("CSRF_TRUSTED_ORIGINS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "hub",
    "accounts",
    "orgs",
    "repos",
    "registry",
    "builds",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

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
                "hub.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{HUB_DATA_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# A request either happens whole or not at all: no user without an email record.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # IMMEDIATE: a transaction that reads then writes waits for a writer instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not memory, so that servers started by the end-to-end tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(HUB_DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dockyard",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 9},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: accounts, verified email, GitHub, two-factor, rate limits.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
# The namespace validator says what is allowed; allauth's own length check would say less.
ACCOUNT_USERNAME_MIN_LENGTH = 1
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{HUB_NAME}] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = _hub.scheme
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
}
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_FORMS = {"signup": "accounts.forms.SocialSignupForm"}
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS = {
    "github": {
        # Builds need to read repositories and install a push webhook on them.
        "SCOPE": ["read:user", "user:email", "repo", "admin:repo_hook"],
    }
}
GITHUB_LINKING_ENABLED = bool(os.environ.get("GITHUB_CLIENT_ID"))
if GITHUB_LINKING_ENABLED:
    SOCIALACCOUNT_PROVIDERS["github"]["APP"] = {
        "client_id": os.environ["GITHUB_CLIENT_ID"],
        "secret": os.environ.get("GITHUB_CLIENT_SECRET", ""),
    }
if GITHUB_URL != "https://github.com":
    # allauth then talks to GITHUB_URL for OAuth and GITHUB_URL/api/v3 for the REST API.
    SOCIALACCOUNT_PROVIDERS["github"]["GITHUB_URL"] = GITHUB_URL
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = HUB_NAME

AVATAR_GRAVATAR = env_bool("AVATAR_GRAVATAR", True)

# Email: EMAIL_URL=smtp://user:pass@host:port (or smtps://), or EMAIL_HOST/EMAIL_PORT; otherwise
# messages are printed on the console of the portal process.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"{HUB_NAME} <noreply@{_hub.hostname}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_url = urlsplit(os.environ.get("EMAIL_URL", ""))
if _email_url.scheme in {"smtp", "smtps", "submission"}:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email_url.hostname or "localhost"
    EMAIL_PORT = _email_url.port or {"smtp": 25, "smtps": 465, "submission": 587}[_email_url.scheme]
    EMAIL_HOST_USER = _email_url.username or ""
    EMAIL_HOST_PASSWORD = _email_url.password or ""
    EMAIL_USE_SSL = _email_url.scheme == "smtps"
    EMAIL_USE_TLS = _email_url.scheme == "submission"
elif os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = 10

# Celery: with no broker, tasks run in-process as they are sent.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "dockyard")
CELERY_TASK_ROUTES = {"builds.tasks.run_build": {"queue": builds_queue(CELERY_TASK_DEFAULT_QUEUE)}}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Automated builds: checkouts and buildah's image storage live under BUILDS_DIR.
BUILDS_DIR = Path(os.environ.get("BUILDS_DIR", HUB_DATA_DIR / "builds")).resolve()
BUILD_TIMEOUT = int(os.environ.get("BUILD_TIMEOUT", "3600"))  # seconds, clone to push
BUILD_LOG_LIMIT = int(os.environ.get("BUILD_LOG_LIMIT", str(2 * 1024 * 1024)))  # characters
# Builds running at once on all workers; `make run` starts a build worker with as many processes.
BUILDS_MAX_CONCURRENT = int(os.environ.get("BUILDS_MAX_CONCURRENT", "2"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HubBearerAuthentication",
        "accounts.authentication.HubBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hub.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{HUB_NAME} API",
    "DESCRIPTION": "Docker Hub compatible REST API, and the legacy v1 API.",
    "VERSION": "2",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The hub speaks English only: no translation catalogues to look up on every string and
# filter of a page (about 1 ms of a 25-line search page).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HUB_DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

SESSION_COOKIE_SECURE = HUB_USES_HTTPS
CSRF_COOKIE_SECURE = HUB_USES_HTTPS
SECURE_SSL_REDIRECT = HUB_USES_HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(
    os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HUB_USES_HTTPS else "0")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HUB_USES_HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HUB_USES_HTTPS)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
