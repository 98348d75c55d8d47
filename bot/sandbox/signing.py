"""Slack's rules for requests to an app's Request URL (HTTP mode): how each kind is encoded, how it is signed,
which headers a retry carries, and what an answer means. Pure functions; the transport is ``http_delivery``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.records import Envelope

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# "The signature is created by combining the signing secret with the body of the request ... using a standard
# HMAC-SHA256 keyed hash": basestring ``v0:{timestamp}:{body}``, header ``X-Slack-Signature: v0=<hex digest>``,
# and ``X-Slack-Request-Timestamp`` (docs.slack.dev/authentication/verifying-requests-from-slack).
VERSION = "v0"
SIGNATURE = "X-Slack-Signature"
TIMESTAMP = "X-Slack-Request-Timestamp"
# Events API retries: "X-Slack-Retry-Num" (1, 2, 3) and "X-Slack-Retry-Reason" (http_timeout, http_error,
# connection_failed, ...) (docs.slack.dev/apis/events-api, "Error handling" / "Retries").
RETRY_NUM = "X-Slack-Retry-Num"
RETRY_REASON = "X-Slack-Retry-Reason"


@dataclass(frozen=True, slots=True)
class Answer:
    """The app's HTTP answer to one request."""

    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode(kind: str, payload: dict[str, Any]) -> tuple[str, bytes]:
    """(content type, body) of a request, as Slack sends each kind.

    Slash commands: the fields form-encoded (docs.slack.dev/interactivity/implementing-slash-commands);
    interactions: one form field ``payload`` holding the JSON (docs.slack.dev/interactivity/
    handling-user-interaction); events and ``url_verification``: the JSON object (docs.slack.dev/apis/events-api).
    """
    if kind == "slash_commands":
        return FORM, urlencode({k: str(v) for k, v in payload.items()}).encode()
    if kind == "interactive":
        return FORM, urlencode({"payload": json.dumps(payload)}).encode()
    if kind == "events_api":
        return JSON, json.dumps(payload).encode()
    raise ValueError(f"Slack sends no {kind!r} requests over HTTP")


def headers(secret: str, timestamp: int, content_type: str, body: bytes, envelope: Envelope) -> dict[str, str]:
    """Signed headers; an Events API retry also says which retry it is and why."""
    sent = {"Content-Type": content_type, TIMESTAMP: str(timestamp), SIGNATURE: signature(secret, timestamp, body)}
    if envelope.type == "events_api" and envelope.retry_attempt:
        sent[RETRY_NUM] = str(envelope.retry_attempt)
        sent[RETRY_REASON] = envelope.retry_reason
    return sent


def failure_reason(answer: Answer) -> str | None:
    """Why Slack counts an answer as a failed delivery, or None when it is the ack: "any response other than a
    HTTP 200-series" is ``http_error`` (docs.slack.dev/apis/events-api, "Error handling"); a body that says it is
    JSON and is not cannot be an ack's payload."""
    if not 200 <= answer.status < 300:
        return "http_error"
    if answer.body.strip() and answer.content_type == JSON:
        try:
            json.loads(answer.body)
        except ValueError:
            return "http_error"
    return None


def ack_of(envelope: Envelope, answer: Answer) -> dict[str, Any]:
    """A 2xx answer as the Socket Mode ack it stands for: ``{"envelope_id": ...}`` with the body as ``payload``
    (a JSON object, or plain text as ``{"text": ...}``: "respond with a plain text or JSON" to a command,
    docs.slack.dev/interactivity/implementing-slash-commands, "Responding to commands")."""
    ack: dict[str, Any] = {"envelope_id": envelope.envelope_id}
    if not answer.body.strip():
        return ack
    if answer.content_type == JSON:
        parsed = json.loads(answer.body)
        ack["payload"] = parsed if isinstance(parsed, dict) else {"text": answer.text}
    else:
        ack["payload"] = {"text": answer.text}
    return ack
