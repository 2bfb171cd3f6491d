"""Secret data encrypted at rest (DESIGN 9): Fernet (AES-128-CBC + HMAC-SHA256) with the key of `secrets.key_file`.

The Store seals a Secret's manifest on every write (its `data` and the annotations that repeat it,
kubectl's last-applied configuration, become one Fernet token under `sealed`) and opens it on
every read, so the database, its backups and its copies hold no plaintext. A check token in the
`meta` table tells a key that does not open this database's secrets: the daemon refuses to start.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy
from cryptography.fernet import Fernet, InvalidToken

from miniorch.errors import MiniorchError
from miniorch.store.connect import Db
from miniorch.store.rows import META

SEALED = "sealed"
#: Annotations that may repeat a Secret's values: sealed with its data.
SEALED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_CHECK_KEY = "secrets_key_check"
_CHECK_TEXT = b"miniorch secrets key check"


class SecretsKeyError(MiniorchError):
    """The key file cannot be used (mode, content) or does not open this database's secrets."""


class SecretsLocked(MiniorchError):
    """A Secret was written or read through a Store that has no key (only the daemon has one)."""


def _refuse_loose_mode(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsKeyError(
            f"secrets.key_file {path} is readable by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"fix it with 'chmod 600 {path}'"
        )


def key_file_problem(path: Path) -> str | None:
    """Why an existing key file cannot be used (pre-flight), or None (a missing one is made at start)."""
    if not path.exists():
        return None
    try:
        _refuse_loose_mode(path)
        Fernet(path.read_bytes().strip())
    except SecretsKeyError as exc:
        return str(exc)
    except OSError as exc:
        return f"secrets.key_file {path}: cannot read it ({exc.strerror}); check its owner and mode"
    except ValueError:
        return f"secrets.key_file {path} does not hold a Fernet key (32 url-safe base64 bytes); restore the right file"
    return None


def load_or_create_key(path: Path) -> bytes:
    """The key in `path`, made (mode 0600, never readable by others even for an instant) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another daemon made it just now: read that one
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key() + b"\n")
    problem = key_file_problem(path)
    if problem:
        raise SecretsKeyError(problem)
    return path.read_bytes().strip()


class SecretBox:
    """Seals and opens Secret manifests; manifests of other kinds pass through untouched."""

    def __init__(self, key: bytes, key_file: str = "secrets.key_file") -> None:
        self._fernet = Fernet(key)
        self.key_file = key_file

    def seal(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if manifest.get("kind") != "Secret" or SEALED in manifest:
            return manifest
        meta = dict(manifest.get("metadata") or {})
        annotations = dict(meta.get("annotations") or {})
        hidden = {k: annotations.pop(k) for k in SEALED_ANNOTATIONS if k in annotations}
        meta["annotations"] = annotations
        payload = json.dumps({"data": manifest.get("data") or {}, "annotations": hidden}, sort_keys=True)
        out = {k: v for k, v in manifest.items() if k not in ("data", "stringData", "metadata")}
        out["metadata"] = meta
        out[SEALED] = self._fernet.encrypt(payload.encode()).decode("ascii")
        return out

    def open(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if SEALED not in manifest:
            return manifest
        try:
            payload = json.loads(self._fernet.decrypt(manifest[SEALED].encode("ascii")))
        except InvalidToken as exc:
            name = (manifest.get("metadata") or {}).get("name")
            raise SecretsKeyError(f"secret {name!r} cannot be opened with the key in {self.key_file}") from exc
        out = {k: v for k, v in manifest.items() if k != SEALED}
        meta = dict(out.get("metadata") or {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **payload["annotations"]}
        out["metadata"] = meta
        if payload["data"]:
            out["data"] = payload["data"]
        return out

    def opens(self, token: str) -> bool:
        try:
            return self._fernet.decrypt(token.encode("ascii")) == _CHECK_TEXT
        except InvalidToken:
            return False

    def check_token(self) -> str:
        return self._fernet.encrypt(_CHECK_TEXT).decode("ascii")


class Locked:
    """The sealer of a Store without the key: other kinds pass, a Secret is refused."""

    def seal(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if manifest.get("kind") == "Secret" and SEALED not in manifest:
            raise SecretsLocked("this Store has no secrets key: Secrets are written by the daemon only")
        return manifest

    def open(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return manifest  # sealed stays sealed: no value leaves without the key


def verify(db: Db, box: SecretBox) -> None:
    """Record the key's check token in a new database, or refuse a key that does not open this one's."""
    query = sqlalchemy.select(META.c.value).where(META.c.key == _CHECK_KEY)
    with db.lock, db.engine.begin() as conn:
        found = conn.execute(query).scalar()
        if found is None:
            conn.execute(META.insert().values(key=_CHECK_KEY, value=box.check_token()))
            return
    if not box.opens(str(found)):
        raise SecretsKeyError(
            f"the key in secrets.key_file {box.key_file} does not open this database's secrets "
            "(daemons sharing a database need the same key file); restore the key file this database was "
            "written with, or point secrets.key_file at it"
        )
