"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory, started on a free
loopback port with its unix socket in the same directory, stopped and deleted afterwards.

Uses Debian's binaries (``/usr/lib/postgresql/<major>/bin``, installed by .ci/run).  PostgreSQL refuses
to run as root, so as root the cluster belongs to the ``postgres`` system user.  ``fsync=off``: the tests
kill clients, never the server, so the server's own durability is not under test and would only cost time.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from services import free_port


def binaries() -> Path:
    """The newest installed PostgreSQL bin directory; a failure in CI, a skip elsewhere."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run should have installed Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql, or run .ci/run)")
    return Path(found[-1]).parent


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = binaries()
        self.port = free_port()
        self._user = "postgres" if os.geteuid() == 0 else None
        # Under /tmp as root: the postgres user must reach the directory (a TMPDIR under /root would not do).
        self.dir = Path(tempfile.mkdtemp(prefix="notrain-pg-", dir="/tmp" if self._user else None))
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._databases = 0
        try:
            self._run(
                "initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"
            )
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.dir / "data"),
                "-l",
                str(self.dir / "server.log"),
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            )
        except BaseException:
            log = self.dir / "server.log"
            print(log.read_text() if log.exists() else "(no server log)")
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / program), *args],
            check=True,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.dir,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """A fresh, empty database's URL (one per test, so tests never see each other's rows)."""
        import asyncpg

        self._databases += 1
        name = f"test_{self._databases}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.dir / "data"))
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
