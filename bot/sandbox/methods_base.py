"""What every Web API method shares: Slack's error answer, argument parsing, pagination, message content.

Pure functions of request parameters (already authenticated); no state.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from bot.sandbox.blockkit import check_blocks, slack_length, with_block_ids

Params = dict[str, Any]
Answer = dict[str, Any]
T = TypeVar("T")

# Slack truncates `text` past 40,000 characters (docs.slack.dev/changelog/2018-04-truncating-really-long-messages)
# and its OpenAPI spec lists `msg_too_long` for chat.postMessage / chat.update: refused here, counted in UTF-16
# code units (see blockkit.slack_length).
MAX_TEXT = 40_000


class ApiError(Exception):
    """A Slack API error: HTTP 200 with ``{"ok": false, "error": ...}`` plus any extra keys."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def text_param(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    return str(value)


def flag_param(params: Params, key: str) -> bool:
    value = params.get(key)
    return value is True or str(value).lower() in ("true", "1")


def json_param(params: Params, key: str, error: str) -> Any:
    """A JSON argument: JSON bodies send the value, form bodies a JSON string."""
    raw = params.get(key)
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise ApiError(error) from None
    return raw


def blocks_param(params: Params) -> list[dict[str, Any]] | None:
    """``blocks`` as a validated list with block ids; None when absent.

    Refusals answer like Slack: ``invalid_blocks`` with ``errors`` and ``response_metadata.messages``
    (``"[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``).
    """
    if params.get("blocks") is None:
        return None
    raw = json_param(params, "blocks", "invalid_blocks_format")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ApiError("invalid_blocks_format")
    problems = check_blocks(raw)
    if problems.too_long:
        # bolt-js#2509: total block text past ~13,172 characters -> msg_blocks_too_long (see blockkit)
        raise ApiError("msg_blocks_too_long")
    if problems.errors:
        raise ApiError(
            "invalid_blocks",
            errors=problems.errors,
            response_metadata={"messages": [f"[ERROR] {e}" for e in problems.errors]},
        )
    return with_block_ids(raw)


def metadata_param(params: Params) -> dict[str, Any] | None:
    """``metadata``: ``{"event_type": str, "event_payload": object}`` (docs.slack.dev/messaging/message-metadata)."""
    if params.get("metadata") is None:
        return None
    raw = json_param(params, "metadata", "invalid_metadata_format")
    if not isinstance(raw, dict):
        raise ApiError("invalid_metadata_format")
    event_type, payload = raw.get("event_type"), raw.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise ApiError("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def content(params: Params) -> tuple[str, list[dict[str, Any]]]:
    """The ``text`` and ``blocks`` of a message to post; one of them (or attachments) is required."""
    text = text_param(params, "text") or ""
    blocks = blocks_param(params)
    if not text and not blocks and not params.get("attachments"):
        raise ApiError("no_text")
    if slack_length(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    return text, blocks or []


def page(items: Sequence[T], params: Params, default_limit: int = 100) -> tuple[list[T], str]:
    """Cursor pagination: a page of ``items`` and the next cursor (``""`` on the last page)."""
    try:
        limit = int(params.get("limit") or default_limit)
        cursor = text_param(params, "cursor")
        start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
    except ValueError:
        raise ApiError("invalid_cursor") from None
    limit = max(1, min(limit, 1000))
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return list(items[start:end]), next_cursor
