"""What tests and the demo read from the emulator: calls, state, envelopes, acks, failures, and waiting on them.

A base of ``SlackEmulator``; nothing here changes the workspace.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from bot.sandbox.home import HomeViews
from bot.sandbox.methods import Methods
from bot.sandbox.modals import Modals, ModalView
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Activity, Call, Envelope, Failure
from bot.sandbox.socket_mode import SocketHub
from bot.sandbox.triggers import Trigger
from bot.sandbox.workspace import Channel, Message, Workspace

T = TypeVar("T")


class Observations:
    workspace: Workspace
    recorder: Recorder
    failures: list[Failure]
    _hub: SocketHub
    _methods: Methods
    _modals: Modals
    _home: HomeViews

    def _channel(self, ref: str) -> Channel:
        raise NotImplementedError

    @property
    def calls(self) -> list[Call]:
        return self.recorder.calls

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.recorder.calls if c.method == method]

    def mark(self) -> int:
        """A position in ``calls``, for ``next_call(since=...)`` without races."""
        return self.recorder.mark()

    async def next_call(
        self,
        method: str,
        timeout: float = 5,
        *,
        since: int | None = None,
        where: Callable[[Call], bool] | None = None,
    ) -> Call:
        """The first call of ``method`` at or after ``since`` (default: now) that satisfies ``where``."""
        return await self.recorder.next_call(method, timeout=timeout, since=since, where=where)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change) and return its value."""
        return await self.recorder.wait_for(predicate, timeout)

    def on_activity(self, callback: Callable[[Activity], None]) -> Callable[[], None]:
        """Call ``callback`` for every message posted, updated, deleted or shown ephemerally, and every Home view
        published (kind ``home``); returns an undo."""
        return self.recorder.subscribe(callback)

    # -- state -----------------------------------------------------------------------------------------

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel or DM (by ID or name)."""
        return self.workspace.top_level(self._channel(channel).id)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.workspace.replies(self._channel(channel).id, ts)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.workspace.find(self._channel(channel).id, ts)

    def ephemerals(self, user_id: str) -> list[Message]:
        return self.workspace.ephemerals(user_id)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab view published for ``user_id`` (as views.publish returned it), None if none was."""
        view = self._home.views.get(user_id)
        return copy.deepcopy(view) if view is not None else None

    # -- modals --------------------------------------------------------------------------------------

    @property
    def views(self) -> list[dict[str, Any]]:
        """Every modal view opened or pushed, open or closed, oldest first: its view object as Slack returns
        it now (``id``, ``blocks``, ``state``, ``hash``...). ``view(id)`` has its errors and whether it is open."""
        return [v.body for v in self._modals.views.values()]

    def view(self, view_id: str) -> ModalView:
        """One modal view: ``blocks``, ``state``, ``errors``, ``is_open``, ``closed_by``, ``shown_error``."""
        try:
            return self._modals.views[view_id]
        except KeyError:
            raise LookupError(f"no view {view_id}") from None

    def open_views(self, user_id: str) -> list[ModalView]:
        """The views of ``user_id``'s modal, root first; the last is the one they see (empty: no modal)."""
        return self._modals.stack(user_id)

    def trigger(self, trigger_id: str) -> Trigger | None:
        """A trigger id the emulator issued: to whom, when, by which payload, and whether it was used."""
        return self._modals.triggers.issued.get(trigger_id)

    # -- Socket Mode -----------------------------------------------------------------------------------

    @property
    def connections(self) -> list[str]:
        """Ids of the open Socket Mode connections, oldest first."""
        return [c.id for c in self._hub.open]

    @property
    def refused_connections(self) -> list[str]:
        """Connections told ``too_many_websockets`` (over Slack's 10 per app)."""
        return list(self._hub.refused)

    async def wait_connections(self, n: int = 1, timeout: float = 10) -> list[str]:
        """Wait until at least ``n`` connections are open (and not told to disconnect); return all open ids."""

        def ready() -> list[str]:
            usable = [c for c in self._hub.open if not c.draining]
            return self.connections if len(usable) >= n else []

        return await self.recorder.wait_for(ready, timeout, f"{n} Socket Mode connection(s)")

    @property
    def envelopes(self) -> list[Envelope]:
        return self.recorder.envelopes

    @property
    def acks(self) -> dict[str, dict[str, Any]]:
        return self.recorder.acks

    @property
    def unacked(self) -> list[Envelope]:
        """Envelopes the app did not ack within 3 s (see ``failures`` for what Slack did about each)."""
        return [f.envelope for f in self.failures]

    async def wait_ack(self, envelope: Envelope, timeout: float = 5) -> dict[str, Any]:
        """The app's ack of ``envelope`` (its JSON object); ``TimeoutError`` if none arrives."""
        return await self.recorder.wait_for(
            lambda: self.recorder.acks.get(envelope.envelope_id),
            timeout,
            f"the ack of {envelope.type} envelope {envelope.envelope_id}",
        )

    def event_envelope(self, ts: str) -> Envelope | None:
        """The first ``events_api`` envelope whose event has this ``ts`` (e.g. a ``user_message``)."""
        for envelope in self.recorder.envelopes:
            if envelope.type == "events_api" and envelope.payload.get("event", {}).get("ts") == ts:
                return envelope
        return None
