"""PostgreSQL against a throwaway cluster (initdb/pg_ctl in a temp dir, Unix socket + TCP on a
free port, TLS with a trustme certificate for localhost/127.0.0.1). As root, the cluster runs as
the ``postgres`` user (initdb refuses root)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.invoke_support import STORE_KEY, put_connection

PASSWORD = "pg-secret-pw"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


@pytest.fixture(scope="session")
def pg_server():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql")
    base = Path(tempfile.mkdtemp(prefix="testpg-cluster-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = base / "server.crt", base / "server.key", base / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    os.chmod(key_file, 0o600)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        shutil.chown(pwfile, "postgres")
        shutil.chown(cert_file, "postgres")
        shutil.chown(key_file, "postgres")
        os.chmod(base, 0o755)
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *prefix,
            initdb,
            "-D",
            str(data),
            "-U",
            "synthral",
            "--pwfile",
            str(pwfile),
            "-A",
            "scram-sha-256",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        f" -c ssl=on -c ssl_cert_file={cert_file} -c ssl_key_file={key_file}"
    )
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield {"host": "127.0.0.1", "port": port, "socket": str(sock), "ca": str(ca_file)}
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg(pg_server, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection(
        "postgresql",
        method="custom",
        config={
            "host": pg_server["host"],
            "port": str(pg_server["port"]),
            "user": "synthral",
            "dbname": "postgres",
        },
        secrets={"password": PASSWORD},
    )
    return pg_server


def test_test_connection(cli, pg):
    r = cli("test", "postgresql", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["success"] is True
    assert out["result"]["user"] == "synthral" and out["result"]["database"] == "postgres"
    assert out["result"]["version"].startswith("PostgreSQL")


def test_parameterised_query_returns_rows_as_json(cli, pg):
    r = cli(
        "invoke",
        "postgresql",
        "query",
        "-p",
        "sql=select %s::int as n, %s::text as name, now()::date is not null as ok, 1.50::numeric as price,"
        " '{\"a\": 1}'::jsonb as doc",
        "-p",
        'params=[7, "Robert\'); drop table students; --"]',
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)["result"]
    assert out["columns"] == ["n", "name", "ok", "price", "doc"]
    assert out["rows"] == [
        {"n": 7, "name": "Robert'); drop table students; --", "ok": True, "price": "1.50", "doc": {"a": 1}}
    ]
    assert out["truncated"] is False


def test_writes_commit_and_max_rows(cli, pg):
    sql = "create table if not exists t_items (id int)"
    assert cli("invoke", "postgresql", "query", "-p", f"sql={sql}").exit_code == 0
    r = cli(
        "invoke",
        "postgresql",
        "query",
        "-p",
        "sql=insert into t_items select generate_series(1, 5)",
        "--json",
    )
    assert json.loads(r.stdout)["result"]["row_count"] == 5
    r = cli(
        "invoke",
        "postgresql",
        "query",
        "-p",
        "sql=select id from t_items order by id",
        "-p",
        "max_rows=2",
        "--json",
    )
    out = json.loads(r.stdout)["result"]
    assert out["rows"] == [{"id": 1}, {"id": 2}] and out["truncated"] is True


def test_sql_error_exits_1_with_the_server_message(cli, pg):
    r = cli("invoke", "postgresql", "query", "-p", "sql=select * from no_such_table", "--json")
    assert r.exit_code == 1
    assert 'PostgreSQL error 42P01: relation "no_such_table" does not exist' in r.stderr
    assert json.loads(r.stdout)["result"]["sqlstate"] == "42P01"


def test_wrong_password_exits_3(cli, pg, monkeypatch):
    put_connection(
        "postgresql",
        method="custom",
        config={"host": pg["host"], "port": str(pg["port"]), "user": "synthral", "dbname": "postgres"},
        secrets={"password": "not-the-password"},
    )
    r = cli("test", "postgresql")
    assert r.exit_code == 3 and "refused the login" in r.stderr
    assert "not-the-password" not in r.stderr


def test_nothing_listening_exits_4(cli, pg):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    put_connection(
        "postgresql",
        method="custom",
        config={"host": "127.0.0.1", "port": str(port), "user": "synthral", "dbname": "postgres"},
        secrets={"password": PASSWORD},
    )
    r = cli("invoke", "postgresql", "query", "-p", "sql=select 1", "--timeout", "3")
    assert r.exit_code == 4 and "Could not connect to PostgreSQL" in r.stderr


def test_dsn_and_dry_run(cli, pg):
    dsn = f"postgresql://synthral:{PASSWORD}@127.0.0.1:{pg['port']}/postgres"
    put_connection("postgresql", method="custom", secrets={"dsn": dsn})
    r = cli("invoke", "postgresql", "query", "-p", "sql=select 1 as one", "--json")
    assert json.loads(r.stdout)["result"]["rows"] == [{"one": 1}]
    r = cli(
        "invoke", "postgresql", "query", "-p", "sql=select %s", "-p", "params:=[1]", "--dry-run", "--json"
    )
    assert json.loads(r.stdout) == {
        "method": "QUERY",
        "url": f"postgresql://127.0.0.1:{pg['port']}/postgres",
        "headers": {},
        "body": {"sql": "select %s", "params": [1]},
    }
    assert PASSWORD not in r.stdout


def test_missing_driver_names_the_extra(cli, pg, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # a fault no peer can produce: the extra not installed
    r = cli("test", "postgresql")
    assert r.exit_code == 2 and "pip install 'synthral[postgres]'" in r.stderr


def test_list_tables_and_describe_table(cli, pg):
    sql = "create table if not exists t_people (id int primary key, name text not null default 'x')"
    assert cli("invoke", "postgresql", "query", "-p", f"sql={sql}").exit_code == 0
    r = cli("invoke", "postgresql", "list_tables", "--json")
    names = [row["name"] for row in json.loads(r.stdout)["result"]["rows"]]
    assert "t_people" in names
    r = cli("invoke", "postgresql", "describe_table", "-p", "table=t_people", "--json")
    assert json.loads(r.stdout)["result"]["rows"] == [
        {"name": "id", "type": "integer", "nullable": False, "default": None},
        {"name": "name", "type": "text", "nullable": False, "default": "'x'::text"},
    ]


SSL_IN_USE = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"


def test_ca_bundle_is_the_sslrootcert(cli, pg, monkeypatch):
    """verify-full needs the server's CA: --ca-bundle or SYNTHRAL_CA_BUNDLE gives it."""
    put_connection(
        "postgresql",
        method="custom",
        config={
            "host": "localhost",
            "port": str(pg["port"]),
            "user": "synthral",
            "dbname": "postgres",
            "sslmode": "verify-full",
        },
        secrets={"password": PASSWORD},
    )
    monkeypatch.setenv("PGSSLROOTCERT", str(Path(pg["ca"]).parent / "absent.pem"))  # no default CA file
    r = cli("invoke", "postgresql", "query", "-p", f"sql={SSL_IN_USE}", "--timeout", "5")
    assert r.exit_code == 4 and "--ca-bundle" in r.stderr
    r = cli("invoke", "postgresql", "query", "-p", f"sql={SSL_IN_USE}", "--ca-bundle", pg["ca"], "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"]["rows"] == [{"ssl": True}]
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", pg["ca"])
    r = cli("invoke", "postgresql", "query", "-p", f"sql={SSL_IN_USE}", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"]["rows"] == [{"ssl": True}]
