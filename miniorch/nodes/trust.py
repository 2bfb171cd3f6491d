"""Why a node's transport failed, in words a user can act on: a wrong CA, an expired or
mismatched certificate, an unknown or changed SSH host key, a refused login, a failed dial-stdio.
"""

from __future__ import annotations

import ssl

import paramiko
import urllib3.util.ssl_match_hostname

from miniorch.nodes.transport import DialStdioFailed, Endpoint, UnknownHostKey, fingerprint


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and every exception it wraps (cause, context, args, urllib3's reason)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        cur = todo.pop(0)
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        nested = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *getattr(cur, "args", ())]
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return seen


def explain(exc: BaseException, endpoint: Endpoint) -> str | None:
    """A message for a failure to establish trust with the engine, or None when `exc`
    is not one (then it is an ordinary unreachable or refused call)."""
    for cur in _chain(exc):
        if isinstance(cur, ssl.SSLCertVerificationError):
            return _verify_message(cur.verify_message or str(cur), cur.verify_code, endpoint)
        if isinstance(cur, urllib3.util.ssl_match_hostname.CertificateError):  # urllib3 checks the name itself
            return _verify_message(f"Hostname mismatch, {cur}", 62, endpoint)
        if isinstance(cur, ssl.SSLError):
            return _tls_message(cur, endpoint)
        if isinstance(cur, (UnknownHostKey, paramiko.BadHostKeyException, paramiko.AuthenticationException)):
            return _ssh_message(cur, endpoint)
    return None


def dial_failure(exc: BaseException) -> str | None:
    """The message of a failed `docker system dial-stdio` somewhere in `exc`, or None."""
    return next((str(cur) for cur in _chain(exc) if isinstance(cur, DialStdioFailed)), None)


def _verify_message(why: str, code: int, ep: Endpoint) -> str:
    name = ep.server_name or ep.host
    if code == 10 or "expired" in why:
        return f"TLS: the engine's certificate has expired ({why}); renew the certificate of the engine at {ep.url}"
    if code == 9 or "not yet valid" in why:
        return f"TLS: the engine's certificate is not valid yet ({why}); check the clocks of both hosts"
    if code == 62 or "mismatch" in why:
        key = "tls.server_name" if ep.server_name else "the URL's host"
        return (
            f"TLS: the engine's certificate is not valid for {name!r}, {key} ({why}); "
            "set tls.server_name to a name the certificate carries, or reissue the certificate"
        )
    return (
        f"TLS: the engine's certificate is not signed by tls.ca {ep.ca} ({why}); "
        "check that tls.ca is the CA that signed the engine's certificate"
    )


def _tls_message(err: ssl.SSLError, ep: Endpoint) -> str:
    why = getattr(err, "reason", None) or str(err)
    if "ALERT" in str(why).upper() or "CERTIFICATE" in str(why).upper():
        return (
            f"TLS: the engine at {ep.url} refused our client certificate tls.cert {ep.cert} ({why}); "
            "the engine's --tlscacert must be the CA that signed tls.cert, and tls.cert must be valid"
        )
    return f"TLS: handshake with the engine at {ep.url} failed ({why}); check that it serves TLS (dockerd --tlsverify)"


def _ssh_message(err: BaseException, ep: Endpoint) -> str:
    known = ep.known_hosts or "~/.ssh/known_hosts"
    where = f"{ep.host}:{ep.port}"
    if isinstance(err, UnknownHostKey):
        return (
            f"SSH: host key of {where} is unknown: {err.key_type} {err.fingerprint} is not in {known}; "
            f"after checking that fingerprint, add it: ssh-keyscan -p {ep.port} {ep.host} >> {known}"
        )
    if isinstance(err, paramiko.BadHostKeyException):
        return (
            f"SSH: host key of {where} has CHANGED: it sent {err.key.get_name()} {fingerprint(err.key)}, "
            f"{known} expects {fingerprint(err.expected_key)}; someone may be intercepting the connection. "
            f"If the host was reinstalled, replace its line in {known}"
        )
    return (
        f"SSH: login as {ep.user!r} on {where} refused with ssh.identity_file {ep.identity_file} ({err}); "
        f"put its public key in ~{ep.user}/.ssh/authorized_keys on that host"
    )
