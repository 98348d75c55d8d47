"""``approval-bot audit``: recent audit entries, printed for people or exported as JSON Lines, JSON or CSV.

Reads what the engine appended (``bot.approvals.audit``); prints nothing but the entries (no setting, no token).
CSV cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return; OWASP "CSV Injection") are prefixed with a single quote, so an agent's text cannot run in the auditor's
spreadsheet. Every field of ``AuditEntry`` is a column (the terms, ``deciders``), and every text cell is checked.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta

from bot.approvals.audit import AuditEntry

FORMATS = ("text", "jsonl", "json", "csv")
COLUMNS = ["at", *(f.name for f in fields(AuditEntry))]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class SinceError(ValueError):
    """``--since`` is neither an ISO 8601 date or time nor a duration such as ``24h``."""


def parse_since(text: str, now: datetime | None = None) -> int:
    """Epoch ms of ``--since``: an ISO 8601 date or time (UTC unless it says otherwise), or a duration back from
    now (``90m``, ``24h``, ``7d``, ``2w``)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if match := _RELATIVE.match(value):
        since = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return int(since.timestamp() * 1000)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SinceError(
            f"--since {text!r} is not an ISO 8601 date or time, nor a duration such as 24h or 7d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def row(entry: AuditEntry) -> dict[str, object]:
    at = datetime.fromtimestamp(entry.at_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"at": at, **asdict(entry)}


def render(entries: Iterable[AuditEntry], form: str) -> str:
    rows = [row(entry) for entry in entries]
    if form == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if form == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({key: _cell(value) for key, value in r.items()})
        return out.getvalue()
    if form == "text":
        return "".join(_line(r) + "\n" for r in rows) or "no audit entries\n"
    raise ValueError(f"unknown format {form!r} (one of {', '.join(FORMATS)})")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _line(r: dict[str, object]) -> str:
    deciders = str(r["deciders"]).replace(",", ", ")
    who = deciders if r["event"] == "approved" and deciders else str(r["user"])
    by = f" by {who}" if who else ""
    counted = f" ({r['count']} of {r['quorum']})" if r["count"] else ""
    waited = f" after {int(str(r['waited_ms'])) / 1000:.1f} s" if r["waited_ms"] else ""
    rule = f", rule {r['rule']}" if r["rule"] else ""
    said = f": {str(r['feedback'])[:120]}" if r["feedback"] else ""
    return f"{r['at']}  {r['approval_id']}  {r['event']}{by}{counted}{waited}{rule}{said}"
