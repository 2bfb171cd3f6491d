"""`ctl config kubeconfig`: a kubeconfig for the daemon's TCP listener, for kubectl and client libraries.

Read from the daemon's config file on the daemon's host: the server (`https://` + `api.tcp`; a
wildcard address becomes the host name, which the certificate names), the CA (the daemon's own,
`state_dir/tls/ca.crt`, or `--certificate-authority` for a configured `api.tls_cert`) and the
bearer token from `api.token_file`. `render()` is pure.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from miniorch.cli.client import CtlError, read_token_file

config = typer.Typer(help="The daemon's client configuration.", no_args_is_help=True, add_completion=False)

_WILDCARDS = ("0.0.0.0", "::", "")


def server_url(tcp: str, host_override: str | None, hostname: str) -> str:
    """`https://HOST:PORT` of the listener `tcp` (`[v6]` bracketed; a wildcard is the host name)."""
    host, _, port = tcp.rpartition(":")
    host = host_override or host.strip("[]")
    if host in _WILDCARDS:
        host = hostname
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def render(server: str, token: str, ca_pem: bytes | None, name: str, namespace: str) -> dict[str, Any]:
    """A kubeconfig with one cluster, user and context, all called `name`, as current context."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }


def _ca(state_dir: Path, own_cert: bool, given: str | None) -> bytes | None:
    if given:
        try:
            return Path(given).read_bytes()
        except OSError as exc:
            raise CtlError(f"cannot read --certificate-authority {given}: {exc.strerror}") from exc
    if own_cert:
        return None  # the configured certificate: the system's CAs (or --certificate-authority) check it
    path = state_dir / "tls" / "ca.crt"
    try:
        return path.read_bytes()
    except OSError:
        raise CtlError(
            f"the daemon's CA {path} does not exist yet; start the daemon once with api.tcp set (it makes its "
            "certificate at start), or run this as a user who can read the daemon's state_dir"
        ) from None


@config.command("kubeconfig")
def kubeconfig(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="The daemon's config file (default: as `miniorch daemon` finds it).")
    ] = None,
    server: Annotated[str | None, typer.Option(help="Host name for the server URL (default: api.tcp's host).")] = None,
    certificate_authority: Annotated[
        str | None, typer.Option(help="CA that signed api.tls_cert (default: the daemon's own CA).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the cluster, user and context.")] = "miniorch",
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="The context's namespace.")] = "default",
) -> None:
    """Print a kubeconfig for the daemon's TCP listener (server, CA, token): `> ~/.kube/miniorch.yaml`."""
    import yaml  # only this command prints YAML

    from miniorch import config as config_mod  # pydantic: off the ctl start-up path

    try:
        cfg = config_mod.load(config_mod.resolve(config_file).path)
    except config_mod.ConfigError as exc:
        raise CtlError(str(exc)) from exc
    api = cfg.api
    if not api.tcp or not api.token_file:
        raise CtlError(
            "the daemon has no TCP listener; set api.tcp and api.token_file in its config (see README, Security)"
        )
    token = read_token_file(str(api.token_file))
    ca = _ca(cfg.state_dir, bool(api.tls_cert), certificate_authority)
    doc = render(server_url(api.tcp, server, socket.gethostname()), token, ca, name, namespace)
    typer.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)
