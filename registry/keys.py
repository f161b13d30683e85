"""The token signing key (ES256) and its self-signed certificate for the registry.

Everything that depends on how distribution identifies keys is in `key_id`, so moving to
distribution 3.x (RFC 7638 thumbprints in a JWKS) is one change here.
"""

import base64
import datetime
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings


def key_path() -> Path:
    return settings.HUB_DATA_DIR / "registry" / "token.key"


def cert_path() -> Path:
    return settings.HUB_DATA_DIR / "registry" / "token.crt"


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32,
    in 12 groups of 4 joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


def ensure_signing_key() -> None:
    """Create the key and certificate once; safe when several processes start together."""
    path, cert = key_path(), cert_path()
    if path.exists() and cert.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, settings.REGISTRY_TOKEN_ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@cache
def signing_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """The private key and its key id, read once per process."""
    ensure_signing_key()
    private_key = serialization.load_pem_private_key(key_path().read_bytes(), password=None)
    return private_key, key_id(private_key.public_key())
