"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a folder, on 127.0.0.1.

PostgreSQL refuses to run as root, so the cluster runs as the `postgres` system user
(Debian's package makes it) when the tests run as root. It listens on a free port of
127.0.0.1 only, with trust authentication for its one role, and is stopped through
its own pidfile (`pg_ctl stop`), never by process name.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/17/bin")]
ROLE = "miniorch"


class PostgresError(RuntimeError):
    """The cluster could not be made or started (the message says why and what to install)."""


def bin_dir() -> Path:
    for d in BIN_DIRS:
        if (d / "initdb").exists():
            return d
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin; "
        "install them with 'apt-get install -y postgresql' (./scripts/test.sh does)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgCluster:
    """One cluster in `base_dir`; `url(db)` gives a SQLAlchemy URL for a database in it."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.data = base_dir / "data"
        self.port = _free_port()
        self._bin = bin_dir()
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self._bin / argv[0]), *argv[1:]]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise PostgresError(f"{argv[0]} failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
        return res

    def start(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            pw = pwd.getpwnam(self._user)
            os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync")
        # The tests' own role is trusted; any other role must give its password (wrong-password tests).
        (self.data / "pg_hba.conf").write_text(
            f"local all {ROLE} trust\nhost all {ROLE} 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base_dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base_dir / "server.log"), "-o", opts, "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the tests' superuser role."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement.encode())

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
