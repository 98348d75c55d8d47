"""The `ops` workflow's world: a local SQLite database of customers and an outbox, and the tools that act on it.

The file (``OPS_DB``) is created and seeded with a few sample customers when it is missing. ``send_email`` only
appends to the ``outbox`` table: nothing here reaches the network. Every query runs in a worker thread on its own
connection; a cancelled call interrupts its query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from autogen_core.tools import FunctionTool

from workflows.types import Preconditions, Tool

MAX_ROWS = 50
"""Rows a query hands back to the agent (the rest are counted, not shown)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, last_order TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, to_addr TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL
);
"""
SAMPLE_CUSTOMERS = [
    (1, "Ada Lovelace", "ada@example.com", "active", "2026-11-20"),
    (2, "Grace Hopper", "grace@example.com", "active", "2026-10-02"),
    (3, "Alan Turing", "alan@example.com", "inactive", "2025-12-11"),
    (4, "Edsger Dijkstra", "edsger@example.com", "inactive", "2025-06-30"),
    (5, "Barbara Liskov", "barbara@example.com", "active", "2026-09-14"),
]

READS = re.compile(r"(?is)^\s*(select|with)\b")
"""A statement that looks like a read runs on a read-only connection: a disguised write (``WITH ... DELETE``)
fails there instead of running. The built-in risk policy runs such statements without asking, for this reason."""

T = TypeVar("T")


class OpsDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> None:
        """Create and seed the database if its file is missing (an existing file is left as it is)."""
        fresh = not self.path.exists()
        with self._connect() as db:
            db.executescript(SCHEMA)
            if fresh:
                db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", SAMPLE_CUSTOMERS)

    def tools(self) -> list[Tool]:
        return [
            FunctionTool(self.find_customers, "Find customers, optionally by status and last order before a date."),
            FunctionTool(self.send_email, "Queue an email to one address (appended to the outbox table)."),
            FunctionTool(self.delete_customers, "Delete the customers with these ids."),
            FunctionTool(self.run_sql, "Run one SQL statement on the customers database and return its rows."),
        ]

    async def find_customers(self, status: str | None = None, inactive_since: str | None = None) -> str:
        """Customers with ``status`` whose last order is before ``inactive_since`` (an ISO date), as JSON rows."""
        query, params = "SELECT * FROM customers WHERE 1 = 1", list[str]()
        if status:
            query, params = query + " AND status = ?", [*params, status]
        if inactive_since:
            query, params = query + " AND (last_order IS NULL OR last_order < ?)", [*params, inactive_since]
        return await self._run(lambda db: _rows(db.execute(query + " ORDER BY id", params)))

    async def send_email(self, to: str, subject: str, body: str) -> str:
        created = datetime.now(UTC).isoformat(timespec="seconds")

        def send(db: sqlite3.Connection) -> str:
            cursor = db.execute(
                "INSERT INTO outbox (to_addr, subject, body, created_at) VALUES (?, ?, ?, ?)",
                (to, subject, body, created),
            )
            return f"queued email {cursor.lastrowid} to {to}"

        return await self._run(send)

    def preconditions(self) -> dict[str, Preconditions]:
        """What each tool expects of the database when it is approved, re-checked just before it runs."""
        return {"delete_customers": self.deleting}

    async def deleting(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The customers a ``delete_customers`` call would delete, by id and name: approved for these, it runs
        only on these."""
        raw = args.get("ids")
        ids = [i for i in raw if isinstance(i, int) and not isinstance(i, bool)] if isinstance(raw, list) else []

        def read(db: sqlite3.Connection) -> dict[str, Any]:
            marks = ",".join("?" * len(ids)) or "NULL"
            found = db.execute(f"SELECT id, name FROM customers WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
            return {"customers_deleted": [f"{row[0]}: {row[1]}" for row in found]}

        return await self._run(read, read_only=True)

    async def delete_customers(self, ids: list[int]) -> str:
        def delete(db: sqlite3.Connection) -> str:
            cursor = db.executemany("DELETE FROM customers WHERE id = ?", [(int(i),) for i in ids])
            return f"deleted {cursor.rowcount} customers"

        return await self._run(delete)

    async def run_sql(self, query: str) -> str:
        """Runs exactly one statement (sqlite3 refuses more than one); its rows, or how many rows it changed."""

        def run(db: sqlite3.Connection) -> str:
            cursor = db.execute(query)
            if cursor.description is not None:
                return _rows(cursor)
            return f"{cursor.rowcount} rows changed"

        return await self._run(run, read_only=READS.match(query) is not None)

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        if read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            return sqlite3.connect(uri, uri=True, timeout=10, check_same_thread=False)
        return sqlite3.connect(self.path, timeout=10, check_same_thread=False)

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, read_only: bool = False) -> T:
        db = self._connect(read_only)

        def in_thread() -> T:
            try:
                with db:  # one transaction: committed if the work returns, rolled back if it raises
                    return work(db)
            finally:
                db.close()

        try:
            return await asyncio.shield(asyncio.to_thread(in_thread))
        except asyncio.CancelledError:
            with contextlib.suppress(sqlite3.ProgrammingError):  # already closed: the query had ended
                db.interrupt()  # the query stops with OperationalError and its transaction rolls back
            raise


def _rows(cursor: sqlite3.Cursor) -> str:
    names = [column[0] for column in cursor.description]
    rows: list[dict[str, Any]] = [dict(zip(names, row, strict=True)) for row in cursor.fetchmany(MAX_ROWS)]
    more = sum(1 for _ in cursor)
    found = json.dumps(rows, ensure_ascii=False)
    return found + (f"\n({more} more rows not shown)" if more else "")
