"""Settings come from the environment: each case starts a fresh `manage.py` process."""

import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "cache": s.CACHES["default"]["BACKEND"],
    "email": s.EMAIL_BACKEND,
    "email_host": getattr(s, "EMAIL_HOST", ""),
    "email_port": getattr(s, "EMAIL_PORT", 0),
    "secret": s.SECRET_KEY,
    "github": s.SOCIALACCOUNT_PROVIDERS["github"].get("GITHUB_URL", ""),
    "github_linking": s.GITHUB_LINKING_ENABLED,
}))
"""

CONFIG_VARS = [
    "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT",
    "SECRET_KEY", "DEBUG", "HUB_URL", "GITHUB_URL", "GITHUB_CLIENT_ID", "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
]  # fmt: skip


def manage(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "HUB_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def probe(data_dir: Path, **env: str) -> dict:
    result = manage(data_dir, "shell", "-c", PROBE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_defaults(tmp_path):
    values = probe(tmp_path)
    assert values["debug"] is False
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "db.sqlite3")
    assert values["eager"] is True
    assert values["cache"].endswith("LocMemCache")
    assert values["email"].endswith("console.EmailBackend")
    assert values["github"] == ""
    assert values["github_linking"] is False


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path):
    first = probe(tmp_path)["secret"]
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 50
    assert probe(tmp_path)["secret"] == first
    assert probe(tmp_path, SECRET_KEY="from-the-environment")["secret"] == "from-the-environment"


def test_services_from_the_environment(tmp_path):
    values = probe(
        tmp_path,
        DATABASE_URL="postgres://dock:pw@db.internal:5433/dockyard",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        REDIS_URL="redis://cache.internal:6379/1",
        EMAIL_URL="smtp://mailer.internal:2525",
        GITHUB_URL="https://github.example.com/",
        GITHUB_CLIENT_ID="abc",
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "dockyard"
    assert values["eager"] is False
    assert values["cache"].endswith("RedisCache")
    assert values["email"].endswith("smtp.EmailBackend")
    assert (values["email_host"], values["email_port"]) == ("mailer.internal", 2525)
    assert values["github"] == "https://github.example.com"
    assert values["github_linking"] is True


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        HUB_URL="https://hub.example.com",
        SECRET_KEY=secrets.token_urlsafe(64),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
