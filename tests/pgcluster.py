"""A throwaway PostgreSQL cluster for tests and the benchmark: initdb/pg_ctl in a temp dir, a Unix
socket and TCP on a free 127.0.0.1 port, scram-sha-256 passwords, TLS with a trustme certificate
for localhost/127.0.0.1. As root the cluster runs as the ``postgres`` user (initdb refuses root).

    cluster = PgCluster().start()
    url = cluster.new_database()      # postgresql://synthral:...@127.0.0.1:PORT/db_xxx
    cluster.restart()                 # a real server restart (pg_ctl restart -m fast)
    cluster.stop()
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD = "pg-secret-pw"
USER = "synthral"


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


class PgCluster:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="testpg-cluster-"))
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.host = "127.0.0.1"
        self.port = 0
        self.ca = str(self.base / "ca.pem")
        self.prefix: list[str] = []

    def start(self) -> PgCluster:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql (scripts/test does)")
        self.pg_ctl = pg_ctl
        self.sock.mkdir()
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert_file, key_file = self.base / "server.crt", self.base / "server.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        ca.cert_pem.write_to_path(self.ca)
        os.chmod(key_file, 0o600)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        if os.geteuid() == 0:
            for path in (self.base, self.sock, pwfile, cert_file, key_file):
                shutil.chown(path, "postgres")
            os.chmod(self.base, 0o755)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self.prefix, initdb, "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
             "-A", "scram-sha-256", "--no-sync"],
            check=True, capture_output=True,
        )
        self.opts = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
            f" -c ssl=on -c ssl_cert_file={cert_file} -c ssl_key_file={key_file}"
        )
        self._ctl("start")
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data), "-o", self.opts, "-l", str(self.base / "log"),
             "-w", *extra, action],
            check=True, capture_output=True, timeout=60,
        )

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str = "postgres", *, password: bool = True) -> str:
        auth = f"{USER}:{PASSWORD}" if password else USER
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres"):  # noqa: ANN201 - a psycopg connection
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True)

    def new_database(self) -> str:
        """A fresh, empty database; its URL (password included)."""
        name = "db_" + secrets.token_hex(6)
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def wal_bytes(self) -> bytes:
        """Every WAL segment's bytes (what a DBA with file access could read)."""
        return b"".join(p.read_bytes() for p in sorted((self.data / "pg_wal").glob("0*")) if p.is_file())
