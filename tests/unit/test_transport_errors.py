"""Trust failures found inside the wrappers requests, urllib3 and docker-py put around them, and worded."""

from __future__ import annotations

import ssl

import docker.errors
import paramiko
import pytest
import requests.exceptions
import urllib3.exceptions
import urllib3.util.ssl_match_hostname

from miniorch.nodes import transport, trust

TLS = transport.Endpoint("tcp://edge-1:2376", transport.TLS, ca="/etc/miniorch/ca.pem", cert="/etc/miniorch/cert.pem")
SSH = transport.Endpoint(
    "ssh://miniorch@edge-2:2222", transport.SSH, identity_file="/etc/miniorch/id", known_hosts="/kh"
)


def verify_error(code: int, text: str) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {text}")
    err.verify_code, err.verify_message = code, text
    return err


def wrapped(inner: BaseException) -> BaseException:
    """As docker-py raises it: DockerException from requests' SSLError from urllib3's MaxRetryError."""
    retry = urllib3.exceptions.MaxRetryError(None, "/version", reason=urllib3.exceptions.SSLError(inner))  # type: ignore[arg-type]
    outer = requests.exceptions.SSLError(retry)
    try:
        try:
            raise outer from retry
        except requests.exceptions.SSLError as exc:
            raise docker.errors.DockerException(f"Error while fetching server API version: {exc}") from exc
    except docker.errors.DockerException as final:
        result: BaseException = final
        return result


class _Key(paramiko.PKey):
    def __init__(self, blob: bytes) -> None:
        self._blob = blob

    def asbytes(self) -> bytes:
        return self._blob

    def get_name(self) -> str:
        return "ssh-ed25519"


CASES = [
    (verify_error(20, "unable to get local issuer certificate"), TLS, "not signed by tls.ca /etc/miniorch/ca.pem"),
    (verify_error(10, "certificate has expired"), TLS, "certificate has expired"),
    (verify_error(9, "certificate is not yet valid"), TLS, "not valid yet"),
    (verify_error(62, "Hostname mismatch, certificate is not valid for 'edge-1'."), TLS, "not valid for 'edge-1'"),
    (
        urllib3.util.ssl_match_hostname.CertificateError("hostname 'edge-1' doesn't match 'x'"),
        TLS,
        "not valid for 'edge-1'",
    ),
    (ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca"), TLS, "refused our client certificate"),
    (
        transport.UnknownHostKey("[edge-2]:2222", "ssh-ed25519", "SHA256:abc"),
        SSH,
        "is unknown: ssh-ed25519 SHA256:abc is not in /kh",
    ),
    (paramiko.BadHostKeyException("[edge-2]:2222", _Key(b"new"), _Key(b"old")), SSH, "has CHANGED"),
    (paramiko.AuthenticationException("Authentication failed."), SSH, "login as 'miniorch' on edge-2:2222 refused"),
]


@pytest.mark.parametrize(("error", "endpoint", "words"), CASES)
def test_trust_failures_are_worded_wherever_they_are_wrapped(
    error: BaseException, endpoint: transport.Endpoint, words: str
) -> None:
    """A trust failure, bare or inside docker-py's and requests' wrappers, gets a message saying which it is."""
    for exc in (error, wrapped(error)):
        text = trust.explain(exc, endpoint)
        assert text is not None and words in text, text


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        paramiko.SSHException("channel closed"),
    ],
)
def test_ordinary_failures_are_not_trust_failures(error: BaseException) -> None:
    """A refused or timed-out connection is not worded as a trust failure (the node is just unreachable)."""
    assert trust.explain(wrapped(error), TLS) is None
    assert trust.dial_failure(wrapped(error)) is None


def test_a_failed_dial_stdio_is_found_in_its_wrappers() -> None:
    """dial-stdio's own error reaches the node's message through docker-py's wrapper."""
    error = wrapped(transport.DialStdioFailed(SSH, "permission denied while trying to connect"))
    text = trust.dial_failure(error)
    assert text is not None and "permission denied" in text and "'miniorch' in the docker group" in text


def test_an_ssh_server_closing_mid_handshake_is_a_node_unavailable_not_a_crash() -> None:
    """paramiko raises a bare EOFError when sshd goes away during the handshake (a restart): the
    node is unreachable for now; before, the error escaped and the node monitor's crash ended the daemon."""
    from miniorch.nodes import records
    from miniorch.nodes.client import NodeClient

    client = NodeClient("edge", "unix:///nonexistent/docker.sock", timeout=1)
    error = client._translate(EOFError(), "ping")
    assert isinstance(error, records.NodeUnavailable) and "(EOFError)" in str(error)
