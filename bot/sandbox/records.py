"""The public shapes the emulator records: Web API calls, envelopes and activities (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Call:
    """One Web API call (or one ``response_url`` post, as method ``"response_url"``) and its answer."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("blocks", "team_id")}
        outcome = "ok" if self.ok else f"{self.status} {self.error}"
        return f"{self.method}({shown}) -> {outcome}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A Socket Mode envelope as sent to the app; ``connection`` is the socket it went to."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool = False
    retry_attempt: int = 0
    retry_reason: str = ""
    connection: str | None = None

    def frame(self) -> dict[str, Any]:
        """The JSON object written on the WebSocket."""
        frame: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            frame["retry_attempt"] = self.retry_attempt
            frame["retry_reason"] = self.retry_reason
        return frame


@dataclass(frozen=True, slots=True)
class Activity:
    """Something a person in the workspace would see, for observers such as the offline demo.

    ``kind`` is ``message``, ``update``, ``delete``, ``ephemeral`` or ``home`` (a Home tab view published for
    ``to_user``: its ``blocks``, ``ts`` its view hash, no channel); ``source`` is what caused it
    (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, ``response_url``, ``ack``, ``user`` or
    ``views.publish``). ``to_user`` is set for ephemeral messages and Home views only.
    """

    kind: str
    source: str
    channel: str
    channel_name: str
    user: str
    user_name: str
    text: str
    ts: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    to_user: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An envelope the app did not ack within Slack's 3 s, and what Slack did about it.

    ``outcome`` is ``retried`` (an Events API envelope sent again with ``retry_attempt`` + 1), ``dropped``
    (its retries are used up), ``shown_error`` (a slash command: the person sees Slack's
    "failed with the error operation_timeout") or ``shown_warning`` (a click or other interaction: the
    person sees Slack's warning that the app did not respond). ``reason`` is why: ``timeout`` (no Socket Mode
    ack in time), or over HTTP ``http_timeout``, ``http_error`` (an answer other than 2xx) or
    ``connection_failed``: what a retry's ``X-Slack-Retry-Reason`` says.
    """

    envelope: Envelope
    outcome: str
    at: float
    reason: str = "timeout"
