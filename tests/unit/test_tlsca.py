"""The daemon's own CA and server certificate (tlsca) and the kubeconfig ctl prints for them."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from miniorch import tlsca
from miniorch.cli import kubeconfig

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _names(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.DNSName)} | {
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    }


def test_first_call_makes_a_ca_and_a_server_cert_signed_by_it_for_the_listener(tmp_path: Path) -> None:
    """ca.crt/ca.key/server.crt/server.key, keys 0600, folder 0700; the cert names the address, loopback and host."""
    f = tlsca.ensure(tmp_path, "10.1.2.3", now=NOW)
    assert stat.S_IMODE(f.folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (f.ca_key, f.key))
    ca = x509.load_pem_x509_certificate(f.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(f.cert.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert {"10.1.2.3", "127.0.0.1", "::1", "localhost"} <= _names(f.cert)


def test_a_second_call_reuses_both_and_a_new_address_or_near_expiry_reissues_with_the_same_ca(tmp_path: Path) -> None:
    """Kept across starts; a listener moved to another address, or a cert 30 days from expiry, gets a new
    server cert from the CA kubeconfigs already carry."""
    f = tlsca.ensure(tmp_path, "127.0.0.1", now=NOW)
    ca, cert = f.ca_cert.read_bytes(), f.cert.read_bytes()
    tlsca.ensure(tmp_path, "127.0.0.1", now=NOW + dt.timedelta(days=1))
    assert (f.ca_cert.read_bytes(), f.cert.read_bytes()) == (ca, cert)
    tlsca.ensure(tmp_path, "edge.example", now=NOW + dt.timedelta(days=1))
    assert f.ca_cert.read_bytes() == ca and f.cert.read_bytes() != cert and "edge.example" in _names(f.cert)
    moved = f.cert.read_bytes()
    tlsca.ensure(tmp_path, "edge.example", now=NOW + dt.timedelta(days=tlsca.SERVER_DAYS - 10))
    assert f.ca_cert.read_bytes() == ca and f.cert.read_bytes() != moved


@pytest.mark.parametrize(
    ("host", "hostname", "expected"),
    [
        ("127.0.0.1", "box", ("127.0.0.1", "::1", "localhost", "box")),
        ("0.0.0.0", "box", ("127.0.0.1", "::1", "localhost", "box")),
        ("::", "box", ("127.0.0.1", "::1", "localhost", "box")),
        ("192.0.2.7", "", ("192.0.2.7", "127.0.0.1", "::1", "localhost")),
    ],
)
def test_the_certificate_names_the_address_but_never_a_wildcard(
    host: str, hostname: str, expected: tuple[str, ...]
) -> None:
    assert tlsca.names_for(host, hostname) == expected


@pytest.mark.parametrize(
    ("tcp", "override", "expected"),
    [
        ("127.0.0.1:7390", None, "https://127.0.0.1:7390"),
        ("0.0.0.0:7390", None, "https://box:7390"),
        ("[::1]:7390", None, "https://[::1]:7390"),
        ("0.0.0.0:7390", "edge.example", "https://edge.example:7390"),
    ],
)
def test_the_kubeconfig_server_is_https_on_the_listener(tcp: str, override: str | None, expected: str) -> None:
    """Always https; a wildcard listener is reached by the host name (which the certificate names)."""
    assert kubeconfig.server_url(tcp, override, "box") == expected


def test_the_kubeconfig_carries_the_ca_token_and_namespace_in_one_context() -> None:
    doc = kubeconfig.render("https://h:1", "tok", b"PEM", "miniorch", "batch")
    assert doc["clusters"] == [
        {
            "name": "miniorch",
            "cluster": {"server": "https://h:1", "certificate-authority-data": base64.b64encode(b"PEM").decode()},
        }
    ]
    assert doc["users"] == [{"name": "miniorch", "user": {"token": "tok"}}]
    assert doc["contexts"][0]["context"] == {"cluster": "miniorch", "user": "miniorch", "namespace": "batch"}
    assert doc["current-context"] == "miniorch"
    assert (
        "certificate-authority-data"
        not in kubeconfig.render("https://h:1", "t", None, "m", "default")["clusters"][0]["cluster"]
    )
