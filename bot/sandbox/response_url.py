"""``response_url`` endpoints: issued with each slash command and click, and what a POST to one does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from bot.sandbox import payloads
from bot.sandbox.blockkit import check_blocks, with_block_ids
from bot.sandbox.clock import Clock
from bot.sandbox.methods import Methods, flag_param, text_param
from bot.sandbox.records import Call

# "use the response_url up to 5 times within 30 minutes" (docs.slack.dev/interactivity/handling-user-interaction,
# "Message responses"). Past either limit Slack answers 404 with the error as the body: `used_url`, `expired_url`.
MAX_USES = 5
LIFETIME_S = 30 * 60


@dataclass(slots=True)
class Target:
    """Who invoked what: the user, the channel and (for a click) the message clicked on."""

    user: str
    channel: str
    message_ts: str | None = None
    uses: int = 0
    issued_at: float = 0.0


class ResponseUrls:
    def __init__(self, methods: Methods, origin: Callable[[], str], clock: Clock) -> None:
        self.methods = methods
        self.clock = clock
        self.ws = methods.ws
        self.recorder = methods.recorder
        self.origin = origin
        self._targets: dict[str, Target] = {}

    def issue(self, user: str, channel: str, message_ts: str | None = None) -> str:
        key = str(uuid.uuid4())
        self._targets[key] = Target(user, channel, message_ts, issued_at=self.clock.now())
        return f"{self.origin()}/response/{key}"

    async def handle(self, request: web.Request) -> web.Response:
        url = f"{self.origin()}{request.path}"
        target = self._targets.get(request.match_info["key"])
        body: dict[str, Any] = {}
        status, error = 200, ""
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                form = await request.post()
                body = json.loads(str(form.get("payload", "{}")))
            else:
                body = json.loads(await request.text() or "{}")
        except ValueError:
            status, error = 400, "invalid_payload"
        if not isinstance(body, dict):
            body, status, error = {}, 400, "invalid_payload"
        if status == 200:
            if target is None:
                status, error = 404, "no_service"
            elif self.clock.now() - target.issued_at > LIFETIME_S:
                status, error = 404, "expired_url"
            elif target.uses >= MAX_USES:
                status, error = 404, "used_url"
            else:
                target.uses += 1
                status, error = self._apply(target, body)
        answer = {"ok": True} if status == 200 else {"ok": False, "error": error}
        self.recorder.record_call(Call("response_url", {**body, "response_url": url}, status, answer, time.time()))
        return web.Response(status=status, text="ok" if status == 200 else error)

    def _apply(self, target: Target, body: dict[str, Any]) -> tuple[int, str]:
        channel = self.ws.channels[target.channel]
        original = None
        if target.message_ts is not None:
            original = self.ws.find(channel.id, target.message_ts) or self.ws.find_ephemeral(
                target.user, target.message_ts
            )
        if flag_param(body, "delete_original"):
            if original is not None and original.visible_to is None:
                self.ws.delete(channel.id, original.ts)
                self.recorder.emit(self.ws.activity("delete", "response_url", original))
                self.methods.echo(channel, payloads.message_deleted_event(self.ws, channel, original))
            return 200, ""
        text = text_param(body, "text") or ""
        blocks = body.get("blocks") or []
        if not isinstance(blocks, list) or check_blocks(blocks):
            return 400, "invalid_blocks"
        if not text and not blocks:
            return 400, "no_text"
        blocks = with_block_ids(blocks)
        if flag_param(body, "replace_original") and original is not None:
            new = self.ws.edited(original, text=text, blocks=blocks)
            if original.visible_to is not None:
                self.ws.store(new)  # an ephemeral message is replaced in place for its one viewer
                self.recorder.emit(self.ws.activity("ephemeral", "response_url", new))
            else:
                self.methods.revise(channel, original, new, "response_url")
            return 200, ""
        thread_ts = text_param(body, "thread_ts")
        if body.get("response_type") == "in_channel":
            message = self.ws.new_message(channel, self.ws.bot, text, blocks=blocks, thread_ts=thread_ts)
            self.methods.publish(channel, message, "response_url")
        else:
            message = self.ws.new_message(
                channel, self.ws.bot, text, blocks=blocks, thread_ts=thread_ts, visible_to=target.user
            )
            self.ws.store(message)
            self.recorder.emit(self.ws.activity("ephemeral", "response_url", message))
        return 200, ""


def ephemeral_from_ack(methods: Methods, payload: dict[str, Any], ack: dict[str, Any]) -> None:
    """Show a slash command's ack body to the invoker, as Slack does (``in_channel`` posts it)."""
    body = ack.get("payload")
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return
    ws = methods.ws
    channel = ws.channels.get(str(payload.get("channel_id")))
    if channel is None:
        return
    blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else []
    text = str(body.get("text") or "")
    message = ws.new_message(channel, ws.bot, text, blocks=with_block_ids(blocks or []))
    if body.get("response_type") == "in_channel":
        methods.publish(channel, message, "ack")
        return
    message = replace(message, visible_to=str(payload.get("user_id")))
    ws.store(message)
    methods.recorder.emit(ws.activity("ephemeral", "ack", message))
