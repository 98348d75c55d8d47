"""What a person does on the sandbox page, turned into the emulator's own inputs.

Each action is a JSON ``POST /page/<action>`` naming who does it (``as``, a user id of ``state.people``). The
answer is ``{"ok": true}`` once the envelope is on its way to the app; what the app then does reaches the page
over its stream. A request Slack's client would not make (an unknown user, a view that is not theirs, a
required input left empty...) gets a 400 with a plain sentence, and nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.page.state import reachable

if TYPE_CHECKING:
    from bot.sandbox.emulator import SlackEmulator

logger = logging.getLogger(__name__)

Body = dict[str, Any]
Action = Callable[["SlackEmulator", str, Body], Awaitable[None]]
DEFAULT_COMMANDS = ("/agent-task",)
# The bound Slack puts on a message's text (chat.postMessage: "truncated ... after 40,000 characters",
# docs.slack.dev/reference/methods/chat.postMessage), refused here rather than cut.
MAX_TEXT = 40_000


class Refused(Exception):
    """A request the page answers with 400 and this sentence."""


class Offline(Refused):
    """No app socket is open: answered with 503 at once, rather than after the emulator's wait for one."""


def online(slack: SlackEmulator) -> SlackEmulator:
    """``slack``, once checked to reach the app (``state.reachable``); when it cannot, Slack answers at once: a
    command "failed with the error "dispatch_failed"" (a Bolt maintainer on why: "Your Bolt app is no longer
    connected", slackapi/bolt-js#2216)."""
    if not reachable(slack):
        bot = slack.workspace.bot.name
        raise Offline(f'{bot} is not connected: Slack answers "dispatch_failed" and nothing was sent')
    return slack


def commands(hints: Iterable[str]) -> frozenset[str]:
    """The slash commands the page offers: ``/agent-task`` and the first word of each hint that is one."""
    named = {hint.split()[0] for hint in hints if hint.startswith("/") and hint.split()}
    return frozenset(DEFAULT_COMMANDS) | named


def text(body: Body, key: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise Refused(f"{key} must be a non-empty string")
    return value


def required(body: Body, key: str) -> str:
    value = text(body, key)
    assert value is not None
    return value


async def send(slack: SlackEmulator, offered: frozenset[str], viewer: str, body: Body) -> None:
    """The message box: ``/command text`` runs a command the page offers, anything else is a message (in a
    thread with ``thread_ts``)."""
    typed = required(body, "text")
    if len(typed) > MAX_TEXT:
        raise Refused(f"a message holds at most {MAX_TEXT} characters")
    channel = required(body, "channel")
    thread_ts = text(body, "thread_ts", optional=True)
    if typed.startswith("/"):
        command, _, rest = typed.partition(" ")
        if thread_ts is not None:
            # "Slash commands created by developers cannot, however, be invoked in message threads."
            # (api.slack.com/interactivity/slash-commands)
            raise Refused(f"{command} cannot be used in a thread: type it in the channel")
        if command not in offered:
            offers = ", ".join(sorted(offered))
            raise Refused(
                f"{command} is not a valid command here ({offers}); to send a message that starts with /, "
                "begin it with a space"
            )
        await online(slack).slash_command(viewer, rest.strip(), channel_id=channel, command=command)
        return
    if not typed.strip():
        raise Refused("text must be a non-empty string")
    await online(slack).user_message(viewer, channel, typed.strip(), thread_ts=thread_ts)


async def click(slack: SlackEmulator, viewer: str, body: Body) -> None:
    """A button in a message (or in the viewer's ephemeral message)."""
    channel, ts, action_id = required(body, "channel"), required(body, "ts"), required(body, "action_id")
    await online(slack).click(viewer, channel, ts, action_id, text(body, "value", optional=True))


async def submit(slack: SlackEmulator, viewer: str, body: Body) -> None:
    """Submit on the viewer's modal, with what they typed: ``values`` block_id -> action_id -> text."""
    values = body.get("values") or {}
    if not isinstance(values, dict) or not all(
        isinstance(by_action, dict) and all(isinstance(v, str) for v in by_action.values())
        for by_action in values.values()
    ):
        raise Refused("values must map block ids to action ids to text")
    await online(slack).submit_view(viewer, required(body, "view_id"), values)


async def close(slack: SlackEmulator, viewer: str, body: Body) -> None:
    """Cancel (or the close x) on the viewer's modal."""
    await slack.close_view(viewer, required(body, "view_id"))  # it closes even with the app away, as in Slack


async def home_open(slack: SlackEmulator, viewer: str, body: Body) -> None:
    """The viewer opens the app's Home (or Messages) tab: Slack sends ``app_home_opened`` with that ``tab``."""
    tab = text(body, "tab", optional=True) or "home"
    if tab not in ("home", "messages"):
        raise Refused("tab must be home or messages")
    await online(slack).open_app_home(viewer, tab)


async def home_click(slack: SlackEmulator, viewer: str, body: Body) -> None:
    """A button in the viewer's Home tab (a ``block_actions`` payload from a view: no channel, no message)."""
    value, block_id = text(body, "value", optional=True), text(body, "block_id", optional=True)
    await online(slack).click_home(viewer, required(body, "action_id"), value, block_id=block_id)


async def answer(slack: SlackEmulator, request: web.Request, act: Action) -> web.Response:
    """Run one action for the request's ``as`` user; its refusal as a 400 with a plain sentence."""
    try:
        body = await request.json()
    except ValueError:
        return refusal("the request is not JSON")
    if not isinstance(body, dict):
        return refusal("the request is not a JSON object")
    viewer = body.get("as")
    user = slack.workspace.users.get(viewer) if isinstance(viewer, str) else None
    if user is None or user.is_bot:
        return refusal("as must be the id of a person in the workspace")
    try:
        await act(slack, user.id, body)
    except Offline as exc:
        return refusal(str(exc), status=503)
    except (Refused, ValueError, LookupError, PermissionError) as exc:
        return refusal(str(exc))
    except TimeoutError:  # its connection went away while the envelope waited
        return refusal(f"{slack.workspace.bot.name} did not take it (no Socket Mode connection): nothing was sent", 503)
    return web.json_response({"ok": True})


def refusal(why: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "error": why}, status=status)
