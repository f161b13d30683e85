"""Configuration files for the distribution registry and its nginx front, from settings."""

import hashlib
import hmac
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from .keys import cert_path, ensure_signing_key


def registry_dir() -> Path:
    return settings.HUB_DATA_DIR / "registry"


def registry_config_path() -> Path:
    return registry_dir() / "config.yml"


def nginx_config_path() -> Path:
    return settings.HUB_DATA_DIR / "nginx" / "nginx.conf"


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 80}"


def registry_config(read_only: bool = False) -> dict:
    http_secret = hmac.new(settings.SECRET_KEY.encode(), b"registry-http", hashlib.sha256)
    return {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": str(registry_dir() / "storage")},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"readonly": {"enabled": read_only}},
        },
        "http": {
            "addr": _host_port(settings.REGISTRY_URL),
            "secret": http_secret.hexdigest(),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {
            "token": {
                "realm": f"{settings.HUB_URL}/token",
                "service": settings.REGISTRY_SERVICE,
                "issuer": settings.REGISTRY_TOKEN_ISSUER,
                "rootcertbundle": str(cert_path()),
            }
        },
        "notifications": {
            "events": {"includereferences": True},
            "endpoints": [
                {
                    "name": "dockyard",
                    "url": f"{settings.PORTAL_INTERNAL_URL}/registry/events",
                    "headers": {"Authorization": [f"Bearer {settings.REGISTRY_EVENTS_SECRET}"]},
                    "timeout": "5s",
                    "threshold": 5,
                    "backoff": "1s",
                    "ignoredmediatypes": ["application/octet-stream"],
                }
            ],
        },
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }


def nginx_config() -> str:
    base = settings.HUB_DATA_DIR / "nginx"
    proxy = """
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;"""
    # Running as root, nginx would hand its workers to `nobody`, who cannot write the data dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes auto;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    client_max_body_size 0;
    chunked_transfer_encoding on;
    upstream registry {{ server {_host_port(settings.REGISTRY_URL)}; keepalive 32; }}
    upstream portal {{ server {_host_port(settings.PORTAL_INTERNAL_URL)}; keepalive 16; }}
    server {{
        listen {settings.REGISTRY_HOST};
        location /v2/ {{
            proxy_pass http://registry;{proxy}
            proxy_request_buffering off;
            proxy_buffering off;
            # Blobs stream through in large chunks: 4-16 KiB ones cost nginx much more CPU.
            proxy_buffer_size 256k;
            proxy_buffers 8 256k;
            proxy_busy_buffers_size 256k;
            client_body_buffer_size 256k;
            proxy_read_timeout 900s;
            proxy_send_timeout 900s;
        }}
        location /v1/ {{
            proxy_pass http://portal;{proxy}
        }}
        location = / {{
            return 302 {settings.HUB_URL}/;
        }}
    }}
}}
"""


def write_configs(read_only: bool = False) -> list[Path]:
    """Write the signing key, the registry's config and nginx's config; return their paths."""
    ensure_signing_key()
    paths = [registry_config_path(), nginx_config_path()]
    (registry_dir() / "storage").mkdir(parents=True, exist_ok=True)
    for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"]:
        (nginx_config_path().parent / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # JSON is YAML, and needs no YAML library.
    registry_config_path().write_text(json.dumps(registry_config(read_only), indent=2))
    nginx_config_path().write_text(nginx_config())
    registry_config_path().chmod(0o600)
    return [cert_path(), *paths]
