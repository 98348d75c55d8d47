"""A scripted model behind a small OpenAI-compatible endpoint, for tests that use the real OpenAI client.

The bot talks to it through AutoGen's ``OpenAIChatCompletionClient`` (``component_config``), the path users take.
A reply depends only on the request's messages: a ``Script`` chosen by the request's model name. The default
script, ``answers``, returns ``replies[k]`` where ``k`` is the number of assistant messages already in the request,
so a process that restarts and replays the same conversation gets the same replies.

It speaks what ``OpenAIChatCompletionClient.create`` uses: ``POST /v1/chat/completions`` with ``stream`` false
(AutoGen's ``AssistantAgent`` streams only with ``model_client_stream=True``, which no workflow sets; a streaming
request is refused with a 400 rather than answered wrongly). Errors have OpenAI's shape, so the ``openai`` package
raises its own ``BadRequestError``, ``AuthenticationError`` or ``NotFoundError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

Message = dict[str, Any]
Reply = str | dict[str, Any]
"""A reply's text, or tool calls: ``{"tool_calls": [{"name": "run_sql", "arguments": {"query": "..."}}]}``."""
Script = Callable[[list[Message]], Reply]
"""The reply for a request's messages (OpenAI's message dicts, as the client sent them)."""


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    """A reply that calls one tool (``answers([tool_call("run_sql", query="..."), "Done."])``)."""
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


PROVIDER = "autogen_ext.models.openai.OpenAIChatCompletionClient"
MODEL_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": "unknown",
    "structured_output": False,
}
"""Required by the client for a model name that is not one of OpenAI's."""


def answers(replies: list[Reply]) -> Script:
    """``replies[k]``, ``k`` the number of assistant messages in the request (the last reply once they run out)."""
    if not replies:
        raise ValueError("answers() needs at least one reply")

    def reply(messages: list[Message]) -> Reply:
        turn = sum(1 for message in messages if message.get("role") == "assistant")
        return replies[min(turn, len(replies) - 1)]

    return reply


def answers_name(replies: list[Reply]) -> str:
    """A model name that depends only on ``replies``: every process given the same replies asks the same script."""
    digest = hashlib.sha256(json.dumps(replies).encode()).hexdigest()
    return f"scripted-{digest[:12]}"


def component_config(base_url: str, model: str) -> dict[str, Any]:
    """The AutoGen component config of an ``OpenAIChatCompletionClient`` asking ``model`` at ``base_url``."""
    return {
        "provider": PROVIDER,
        "config": {"model": model, "base_url": base_url, "api_key": "sk-scripted-not-a-key", "model_info": MODEL_INFO},
    }


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One request as the server saw it, and what it answered (``reply`` is None for an error)."""

    model: str
    messages: list[Message]
    body: dict[str, Any]
    status: int
    reply: Reply | None


class ModelError(Exception):
    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", **fields: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.fields = status, kind, fields

    def response(self) -> web.Response:
        error = {"message": str(self), "type": self.kind, "param": None, "code": None, **self.fields}
        return web.json_response({"error": error}, status=self.status)


class ModelServer:
    """``async with ModelServer() as model:`` serves ``model.base_url`` on 127.0.0.1 until the block ends."""

    def __init__(self, scripts: Mapping[str, Script] | None = None) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.requests: list[ModelRequest] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._answered = asyncio.Condition()

    def add(self, name: str, script: Script) -> str:
        self.scripts[name] = script
        return name

    def add_answers(self, replies: list[Reply]) -> str:
        """Serves ``answers(replies)`` under ``answers_name(replies)`` and returns that name."""
        return self.add(answers_name(replies), answers(replies))

    @property
    def base_url(self) -> str:
        """What the OpenAI client takes as ``base_url``: ``http://127.0.0.1:<port>/v1``."""
        if self._runner is None:
            raise RuntimeError("the model server is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    def config(self, model: str) -> dict[str, Any]:
        return component_config(self.base_url, model)

    def asked(self, model: str) -> list[ModelRequest]:
        return [request for request in self.requests if request.model == model]

    async def wait_requests(self, count: int, timeout: float = 5.0) -> list[ModelRequest]:
        """Until the server has answered ``count`` requests in all; returns them."""
        async with asyncio.timeout(timeout), self._answered:
            await self._answered.wait_for(lambda: len(self.requests) >= count)
        return self.requests[:count]

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_route("*", "/{path:.*}", self._unknown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._port = runner, int(runner.addresses[0][1])
        return self

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _completions(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        try:
            body = await self._body(request)
            model, messages = body["model"], body["messages"]
            script = self.scripts.get(model)
            if script is None:
                raise ModelError(
                    404,
                    f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found",
                )
            try:
                reply = script(messages)
            except Exception as exc:
                raise ModelError(500, f"The script of `{model}` failed: {exc!r}", kind="server_error") from exc
        except ModelError as exc:
            await self._record(failed(body, exc.status))
            return exc.response()
        await self._record(ModelRequest(model, messages, body, 200, reply))
        return web.json_response(completion(model, messages, reply))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            raise ModelError(401, "You didn't provide an API key.", code="invalid_api_key")
        try:
            body = await request.json()
        except ValueError as exc:
            raise ModelError(400, "We could not parse the JSON body of your request.") from exc
        if not isinstance(body, dict):
            raise ModelError(400, "The request body must be a JSON object.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise ModelError(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise ModelError(400, "'messages' must be a non-empty array of message objects.", param="messages")
        if body.get("stream"):
            raise ModelError(400, "This scripted model does not stream; send stream=false.", param="stream")
        if body.get("n", 1) != 1:
            raise ModelError(400, "This scripted model answers one choice (n=1).", param="n")
        return body

    async def _record(self, request: ModelRequest) -> None:
        async with self._answered:
            self.requests.append(request)
            self._answered.notify_all()

    async def _unknown(self, request: web.Request) -> web.Response:
        return ModelError(404, f"Invalid URL ({request.method} {request.path})").response()


def failed(body: dict[str, Any], status: int) -> ModelRequest:
    messages = body.get("messages")
    return ModelRequest(str(body.get("model", "")), messages if isinstance(messages, list) else [], body, status, None)


def completion(model: str, messages: list[Message], reply: Reply) -> dict[str, Any]:
    """A chat.completion object as OpenAI answers it (tokens counted as words, roughly). Tool call ids depend
    only on the conversation, like the reply."""
    prompt_tokens = sum(len(str(message.get("content") or "").split()) for message in messages)
    if isinstance(reply, str):
        message: dict[str, Any] = {"role": "assistant", "content": reply, "refusal": None}
        finish, completion_tokens = "stop", len(reply.split())
    else:
        seed = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        calls = [
            {
                "id": f"call_{seed[:12]}{index}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
            }
            for index, call in enumerate(reply["tool_calls"])
        ]
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": calls}
        finish, completion_tokens = "tool_calls", len(json.dumps(calls).split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
