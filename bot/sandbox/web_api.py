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
from bot.sandbox.ratelimits import RateLimiter
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Call
from bot.sandbox.scopes import NO_SCOPE, MissingScope, header_value

logger = logging.getLogger(__name__)

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
NO_TOKEN_METHODS = frozenset({"api.test"})


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    error: str
    retry_after: int
    after_handling: bool = False
    """The method runs and its effect stays, but its answer is replaced by the fault: an answer lost on the way
    back (a 5xx from a proxy, a dropped connection), the case that makes blind retries post twice."""


class WebApi:
    """Serves ``/api/<method>`` for one bot token and one app-level token."""

    def __init__(
        self, methods: Methods, recorder: Recorder, limiter: RateLimiter, *, bot_token: str, app_token: str
    ) -> None:
        self.methods = methods
        self.recorder = recorder
        self.limiter = limiter
        self._tokens = {bot_token: "bot", app_token: "app"}
        self._faults: dict[str, deque[Fault]] = {}

    def fail_next(
        self, method: str, *, status: int, error: str, retry_after: int, times: int, after_handling: bool = False
    ) -> None:
        fault = Fault(status, error, retry_after, after_handling)
        self._faults.setdefault(method, deque()).extend([fault] * times)

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
            if kind == "bot":  # exactly the token's scopes (Bolt reads this header: slack-facts 2.5)
                headers["x-oauth-scopes"] = header_value(self.methods.grants.scopes)
        faults = self._faults.get(method)
        fault = faults.popleft() if faults else None
        if fault is not None and not fault.after_handling:
            return self._fault(fault, headers)
        answer = self._handle(method, params, headers)
        return self._fault(fault, headers) if fault is not None else answer

    @staticmethod
    def _fault(fault: Fault, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if fault.status == 429:
            headers["Retry-After"] = str(fault.retry_after)
        return fault.status, {"ok": False, "error": fault.error}

    def _handle(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        handler = self.methods.table[method]
        retry_after = self.limiter.retry_after(method, str(params.get("channel") or "") or None)
        if retry_after is not None:  # docs.slack.dev/apis/web-api/rate-limits: 429, Retry-After, ratelimited
            headers["Retry-After"] = str(retry_after)
            return 429, {"ok": False, "error": "ratelimited"}
        try:
            if method not in NO_SCOPE:
                self.methods.grants.require_method(method)
            return 200, {"ok": True, **handler(params)}
        except MissingScope as exc:
            return 200, {"ok": False, "error": "missing_scope", "needed": exc.needed, "provided": exc.provided}
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
