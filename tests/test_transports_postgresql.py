"""PostgreSQL against a throwaway cluster (initdb/pg_ctl in a temp dir, Unix socket + TCP on a
free port, TLS with a trustme certificate for localhost/127.0.0.1). As root, the cluster runs as
the ``postgres`` user (initdb refuses root)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.invoke_support import STORE_KEY, put_connection
from tests.pgcluster import PASSWORD


@pytest.fixture(scope="session")
def pg_server(pg_cluster):
    return {"host": pg_cluster.host, "port": pg_cluster.port, "socket": str(pg_cluster.sock), "ca": pg_cluster.ca}


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
