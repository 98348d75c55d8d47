"""The HTTP side of the Web API: parsing, token checks, injected faults, recording, JSON answers."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox.methods import ApiError, Methods
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Call

logger = logging.getLogger(__name__)

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
NO_TOKEN_METHODS = frozenset({"api.test"})
BOT_SCOPES = (
    "commands,chat:write,chat:write.public,channels:history,groups:history,channels:read,groups:read,"
    "channels:join,users:read"
)


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    error: str
    retry_after: int


class WebApi:
    """Serves ``/api/<method>`` for one bot token and one app-level token."""

    def __init__(self, methods: Methods, recorder: Recorder, *, bot_token: str, app_token: str) -> None:
        self.methods = methods
        self.recorder = recorder
        self._tokens = {bot_token: "bot", app_token: "app"}
        self._faults: dict[str, deque[Fault]] = {}

    def fail_next(self, method: str, *, status: int, error: str, retry_after: int, times: int) -> None:
        self._faults.setdefault(method, deque()).extend([Fault(status, error, retry_after)] * times)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        headers: dict[str, str] = {}
        try:
            params = await read_params(request)
        except ApiError as exc:
            params, status, answer = {}, 200, {"ok": False, "error": exc.error}
        else:
            token = bearer(request) or str(params.get("token") or "")
            params.pop("token", None)
            status, answer = self._answer(method, token, params, headers)
        self.recorder.record_call(Call(method, params, status, answer, time.time()))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, method: str, token: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        handler = self.methods.table.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}
        if method not in NO_TOKEN_METHODS:
            kind = self._tokens.get(token)
            wanted = "app" if method in APP_TOKEN_METHODS else "bot"
            if not token:
                return 200, {"ok": False, "error": "not_authed"}
            if kind is None:
                return 200, {"ok": False, "error": "invalid_auth"}
            if kind != wanted:
                return 200, {"ok": False, "error": "not_allowed_token_type"}
            if kind == "bot":
                headers["x-oauth-scopes"] = BOT_SCOPES
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            if fault.status == 429:
                headers["Retry-After"] = str(fault.retry_after)
            return fault.status, {"ok": False, "error": fault.error}
        try:
            return 200, {"ok": True, **handler(params)}
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}
        except Exception:
            logger.exception("the emulated method %s failed", method)
            return 500, {"ok": False, "error": "internal_error"}


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string, form body and JSON body merged (the body wins), as slack-sdk may send any of them."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        raw = await request.text()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError("invalid_json") from None
            if not isinstance(body, dict):
                raise ApiError("invalid_json")
            params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params
