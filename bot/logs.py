"""Log lines for people (``LOG_FORMAT=text``) or for a log pipeline (``LOG_FORMAT=json``: one JSON object a line).

JSON lines carry the run and the approval being handled when the line was logged (``run_id``, ``approval_id``,
from context variables the worker and the bridge set), so a pipeline can follow one run across replicas. No
setting is ever logged, so no token can be.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

RUN_ID: ContextVar[str] = ContextVar("run_id", default="")
"""The run this task works for (set by the worker for the run's task; tasks it starts inherit it)."""
APPROVAL_ID: ContextVar[str] = ContextVar("approval_id", default="")
"""The approval this task is waiting on or deciding."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if run_id := RUN_ID.get():
            line["run_id"] = run_id
        if approval_id := APPROVAL_ID.get():
            line["approval_id"] = approval_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(form: str) -> logging.Formatter:
    return JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT)
