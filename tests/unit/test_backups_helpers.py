"""Pure backup helpers and the restore client's parsing: DSNs, dump formats, the ladder's
bookkeeping (newest copy, sidecars, restore verdict, failure/recovery transitions)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sre.checks.backup import (
    Candidate,
    Verdict,
    failing,
    newest_and_earlier,
    parse_sidecar,
    restore_verdict,
    transition,
)
from sre.clients.postgres import (
    PostgresRestorer,
    RestoreError,
    check_plain_dump,
    dump_format,
    parse_dsn,
    psql_has_restrict,
)

DIGEST = "ab" * 32


def test_newest_and_earlier_sizes() -> None:
    copies = [
        Candidate("pg/2026-11-01.dump", 100, 10.0),
        Candidate("pg/2026-11-03.dump", 300, 30.0),
        Candidate("pg/2026-11-02.dump", 200, 30.0),  # same second: the name breaks the tie
    ]
    newest, earlier = newest_and_earlier(copies)
    assert newest is not None and newest.name == "pg/2026-11-03.dump"
    assert earlier == [200, 100]
    assert newest_and_earlier([]) == (None, [])
    assert newest_and_earlier(copies, history=1)[1] == [200]


@pytest.mark.parametrize(
    ("text", "digest"),
    [
        (f"{DIGEST}  postgres/2026-11-25.dump\n", DIGEST),
        (DIGEST.upper(), DIGEST),
        ("SHA256 (x) = " + DIGEST, DIGEST),
        ("not a digest", None),
        ("ab" * 31, None),
    ],
)
def test_parse_sidecar(text: str, digest: str | None) -> None:
    assert parse_sidecar(text) == digest


def test_restore_verdict() -> None:
    ok = Verdict("restore", "pass", "fine")
    bad = Verdict("restore", "fail", "'select 1' returned 1, below 5")
    assert restore_verdict(None, [ok]).outcome == "pass"
    assert restore_verdict(None, [ok, bad]) == Verdict("restore", "fail", bad.reason)
    assert restore_verdict("pg_restore failed: boom", [ok]).reason == "pg_restore failed: boom"


def test_transitions() -> None:
    assert failing({"freshness": "pass", "size": "no_verdict"}) is False
    assert failing({"freshness": "pass", "restore": "fail"}) is True
    assert transition(None, False) is None  # first sight of a healthy backup: quiet
    assert transition(None, True) == "failed"
    assert transition(False, True) == "failed"
    assert transition(True, True) is None  # still failing: no second message
    assert transition(True, False) == "recovered"


def test_parse_dsn_uri_and_keywords() -> None:
    assert parse_dsn("postgresql://u%40x:p%3Aw@db.example:6432/app?sslmode=require") == {
        "user": "u@x",
        "password": "p:w",
        "host": "db.example",
        "port": "6432",
        "dbname": "app",
        "sslmode": "require",
    }
    assert parse_dsn("host=db port=5432 user=sre password='p w' dbname=postgres") == {
        "host": "db",
        "port": "5432",
        "user": "sre",
        "password": "p w",
        "dbname": "postgres",
    }
    assert parse_dsn(r"password='a\'b c'") == {"password": "a'b c"}


def test_bad_dsn_errors_never_show_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        parse_dsn("postgresql://u:hunter2@h/db?bogus=1")
    assert "bogus" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(ValueError) as caught:
        parse_dsn("=hunter2")
    assert "hunter2" not in str(caught.value)


def test_restorer_env_and_scrub() -> None:
    restorer = PostgresRestorer("postgresql://sre:hunter2@127.0.0.1:5/ops")
    assert restorer.env["PGPASSWORD"] == "hunter2" and restorer.env["PGHOST"] == "127.0.0.1"
    assert "PGDATABASE" not in restorer.env and restorer.maintenance_db == "ops"
    assert restorer.scrub("auth failed for hunter2\n  x") == "auth failed for *** x"


def test_dump_format(tmp_path: Path) -> None:
    cases = {
        "custom": b"PGDMP\x01\x0e\x00",
        "plain": b"--\n-- PostgreSQL database dump\n",
        "gzip": gzip.compress(b"select 1;"),
        "tar": b"toc.dat".ljust(257, b"\0") + b"ustar\x0000",
    }
    for expected, data in cases.items():
        path = tmp_path / expected
        path.write_bytes(data)
        assert dump_format(path) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:s3cr3tPW/x@db:5432/app",  # unencoded /: the port is the password
        "postgresql://app:s3cr3tPW#x@db:5432/app",  # unencoded #
        "postgresql://app:12/s3cr3tPW@db:5432/app",  # all digits before the /: a "port"
        "postgresql://app:12#s3cr3tPW@db/app",
    ],
)
def test_unencoded_password_gets_a_fixed_message(dsn: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_dsn(dsn)
    message = str(caught.value)
    assert message.startswith("is not a valid postgresql:// URI")
    assert "s3cr3tPW" not in message and caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_scrub_hides_the_whole_dsn_and_encoded_password() -> None:
    dsn = "postgresql://sre:p%2Fw@127.0.0.1:5/ops"
    restorer = PostgresRestorer(dsn)
    assert restorer.env["PGPASSWORD"] == "p/w"
    assert restorer.scrub(f"bad {dsn} / p%2Fw / p/w") == "bad *** / *** / ***"


PLAIN = b"""SET standard_conforming_strings = on;
\\restrict abcDEF123
CREATE TABLE t (a text);
COPY public.t (a) FROM stdin;
\\\\server\\share
  \\! not a command: COPY data
\\.
SELECT 'x';
\\unrestrict abcDEF123
"""


def test_plain_dump_check_keeps_sql_and_copy_data(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.sql", tmp_path / "out.sql"
    src.write_bytes(PLAIN)
    check_plain_dump(src, dst)
    lines = PLAIN.splitlines(keepends=True)
    assert dst.read_bytes() == b"".join(lines[:1] + lines[2:8])  # pg_dump's \restrict dropped


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (b"\\! touch /tmp/x\n", r"line 10 is a psql meta-command (\!)"),
        (b"   \\c other\n", r"line 10 is a psql meta-command (\c)"),
        (b"\\connect other\n", r"line 10 is a psql meta-command (\connect)"),
        (b"\\.\n", r"line 10 is a psql meta-command (\.)"),  # outside COPY data
        (b"\\set ON_ERROR_STOP 0\n", r"line 10 is a psql meta-command (\set)"),
        (b"create  database x;\n", "line 10 creates a database (pg_dump --create"),
    ],
)
def test_plain_dump_check_refuses(tmp_path: Path, extra: bytes, reason: str) -> None:
    src = tmp_path / "in.sql"
    src.write_bytes(PLAIN + extra + b"SELECT 1;\n")
    with pytest.raises(RestoreError) as caught:
        check_plain_dump(src, tmp_path / "out.sql")
    assert str(caught.value).startswith("plain dump refused: ")
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", True),
        ("psql (PostgreSQL) 15.13", False),
        ("psql (PostgreSQL) 17.6", True),
        ("psql (PostgreSQL) 16.9", False),
        ("psql (PostgreSQL) 18.0", True),
        ("psql (PostgreSQL) 12.22", False),
        ("psql", False),
    ],
)
def test_psql_has_restrict(version: str, expected: bool) -> None:
    assert psql_has_restrict(version) is expected
