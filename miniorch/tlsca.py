"""The daemon's own CA and server certificate for the TCP listener, when none is configured.

kubectl sends a bearer token only over TLS, so the TCP API always speaks TLS (DESIGN 11): at
first start the daemon makes a private CA and a server certificate (the listener's address,
127.0.0.1, ::1, localhost and the host name) in `state_dir/tls/`, keys 0600, and reuses them
after. A certificate that no longer names the listener's address, or expires within 30 days,
is issued again by the same CA; the CA (which kubeconfigs carry) is kept.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = structlog.get_logger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
_WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Files:
    """Where the self-made TLS material is, in `state_dir/tls/`."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"


def files(state_dir: Path) -> Files:
    return Files(state_dir / "tls")


def names_for(host: str, hostname: str | None = None) -> tuple[str, ...]:
    """The names the server certificate is for: the listener's host (not a wildcard), the loopback
    addresses, localhost and the host name."""
    hostname = socket.gethostname() if hostname is None else hostname
    found = [] if host in _WILDCARDS else [host]
    return tuple(dict.fromkeys([*found, "127.0.0.1", "::1", "localhost", *([hostname] if hostname else [])]))


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(0o600)  # also when the file was there with looser bits


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _make_ca(f: Files, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(f"miniorch CA {socket.gethostname()}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(f.ca_key, key)
    f.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("tls_ca_created", path=str(f.ca_cert), expires=cert.not_valid_after_utc.isoformat())
    return cert, key


def _load_ca(f: Files) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (f.ca_cert.exists() and f.ca_key.exists()):
        return None
    cert = x509.load_pem_x509_certificate(f.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(f.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{f.ca_key} is not the EC key miniorch made; remove {f.folder} to make a new CA")
    return cert, key


def _issue(
    f: Files, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: tuple[str, ...], now: dt.datetime
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=SERVER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(f.key, key)
    f.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info(
        "tls_server_cert_issued", path=str(f.cert), names=list(names), expires=cert.not_valid_after_utc.isoformat()
    )


def _current(f: Files, names: tuple[str, ...], now: dt.datetime) -> bool:
    """The server certificate is there, names every one of `names` and lasts another 30 days."""
    if not (f.cert.exists() and f.key.exists()):
        return False
    cert = x509.load_pem_x509_certificate(f.cert.read_bytes())
    wanted = set(_san(names))
    try:
        have = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return False  # not one of ours: issue ours
    return wanted <= have and cert.not_valid_after_utc - now > RENEW_BEFORE


def ensure(state_dir: Path, host: str, now: dt.datetime | None = None) -> Files:
    """The CA and a current server certificate for a listener on `host`, made when missing."""
    now = now or dt.datetime.now(dt.UTC)
    f = files(state_dir)
    f.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    names = names_for(host)
    loaded = _load_ca(f)
    ca, ca_key = loaded if loaded else _make_ca(f, now)
    if loaded is None or not _current(f, names, now):
        _issue(f, ca, ca_key, names, now)
    return f
