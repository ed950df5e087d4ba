"""A transaction on a DB-API connection, and what a backend must say about its database.

:class:`Tx` is what ``store.transaction()`` yields (``contract.Tx``): SQL text with
``:name`` parameters, translated for drivers that want ``%(name)s``; a list parameter
expands for ``IN``; rows come back as dicts by column name; ``create`` compiles SQLAlchemy
``Table`` declarations to the backend's own DDL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from sre.runtime.store.contract import Row

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


class Backend(Protocol):
    """What differs between databases."""

    name: str  # sqlite | postgresql
    begin: str  # the statement that opens a write transaction
    ddl_dialect: sa.Dialect  # compiles Table objects to this database's DDL
    unavailable: tuple[type[BaseException], ...]  # driver errors: the storage failed
    named_params: bool  # True: the driver takes :name itself; False: %(name)s

    def connection(self) -> AbstractContextManager[Any]:
        """A DB-API connection, exclusively ours until the block ends."""
        ...

    def lock_migrations(self, tx: Tx) -> None:
        """Serialise migrations across processes (inside the migration's transaction)."""
        ...

    def order_outbox(self, tx: Tx) -> None:
        """Before an outbox insert (with :meth:`outbox_settled`): where writers run
        concurrently, let a reader wait for the inserts in flight."""
        ...

    def outbox_horizon(self, tx: Tx, after: int) -> int | None:
        """The highest outbox id up to which every id above ``after`` has committed or
        failed (the caller reads no further); None: all of them (the backend waited for
        what was in flight, or nothing can be)."""
        ...


class Tx:
    """A transaction on one DB-API connection (see ``contract.Tx``)."""

    wrote = False  # a statement other than a SELECT ran (readiness: did a write succeed?)
    probe = False  # the readiness check's own tiny write: proves little on a full disk

    def __init__(self, conn: Any, backend: Backend) -> None:
        self._conn = conn
        self._backend = backend
        self.dialect = backend.name

    def _cursor(self, sql: str, params: Mapping[str, Any] | None) -> Any:
        values = dict(params or {})
        for name, value in list(values.items()):
            if isinstance(value, list | tuple):  # IN :names -> IN (:names_0, :names_1)
                del values[name]
                marks = [f":{name}_{i}" for i in range(len(value))] or ["NULL"]
                sql = re.sub(rf":{name}\b", "(" + ", ".join(marks) + ")", sql)
                values.update({f"{name}_{i}": v for i, v in enumerate(value)})
        if not self._backend.named_params:
            sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        if not sql.lstrip()[:6].upper().startswith("SELECT"):
            self.wrote = True
        cursor = self._conn.cursor()
        cursor.execute(sql, values)
        return cursor

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        cursor = self._cursor(sql, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cursor = self._cursor(sql, params)
        try:
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        cursor = self._cursor(sql, params)
        try:
            row = cursor.fetchone()
            cursor.fetchall()  # finish the statement (SQLite keeps it active otherwise)
            return row[0] if row else None
        finally:
            cursor.close()

    def create(self, *tables: sa.Table) -> None:
        dialect = self._backend.ddl_dialect
        for table in tables:
            self._run_ddl(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                ddl = CreateIndex(index, if_not_exists=True).compile(dialect=dialect)
                self._run_ddl(str(ddl))

    def _run_ddl(self, ddl: str) -> None:
        cursor = self._conn.cursor()
        try:
            cursor.execute(ddl)
        finally:
            cursor.close()
