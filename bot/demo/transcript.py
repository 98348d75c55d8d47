"""The demo's chat transcript: prints the workspace's activity and answers approval cards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import textwrap
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from bot.demo.terminal import Terminal
from bot.sandbox import Activity, SlackEmulator
from bot.sandbox.render import GUTTER, render_message
from bot.slack.blocks import ACTION_APPROVE, ACTION_CANCEL, ACTION_REVISE

DEFAULT_TASK = "Draft the announcement email for release 2.4"
AUTO_CHOICES = ("approve", "revise", "cancel")
AUTO_FEEDBACK = "Shorter, and use bullet points"
USER_NAME = "you"
APPROVALS = "approvals"
BOT_TIME_S = 120.0
"""The bot's time budget: the demo gives up if the bot takes longer (time spent at the prompts not counted)."""
SETTLE_S = 3.0
"""How long to wait for a decided card's edit before showing what comes next, so the transcript reads in order."""
REPLY_S = 5.0
DRAIN_S = 3.0
REPORT_MARKS = ("✅", "🛑", "⌛", "⚠️")

_AUTO_PLANS = {"approve": ["approve"], "revise": ["revise", "approve"], "cancel": ["cancel"]}
_ANSWERS = {"a": "approve", "approve": "approve", "r": "revise", "revise": "revise", "c": "cancel", "cancel": "cancel"}
_QUESTION = "Approve, Revise or Cancel? [a/r/c] "
_INDENT = "    "
WIDTH = 100
"""Lines are wrapped at this width, or the terminal's if narrower."""


class Demo:
    """Prints the workspace's activity as a chat transcript and answers approval cards (asking, or ``auto``)."""

    def __init__(
        self,
        slack: SlackEmulator,
        user: str,
        approvals: str,
        *,
        auto: str | None,
        out: TextIO,
        terminal: Terminal,
        bot_time_s: float = BOT_TIME_S,
    ) -> None:
        self.slack = slack
        self.user = user
        self.approvals = approvals
        self.auto = auto
        self.out = out
        self.terminal = terminal
        self.bot_time_s = bot_time_s
        self._plan = list(_AUTO_PLANS[auto]) if auto else []
        self._queue: asyncio.Queue[Activity] = asyncio.Queue()
        self._deferred: deque[Activity] = deque()
        self._versions: dict[str, list[dict[str, Any]]] = {}  # ts -> blocks of the version last shown
        self._awaiting_edit: set[str] = set()  # decided cards whose edit has not been shown yet
        self._bot_replied_in: set[str] = set()  # threads the bot has replied in
        self._answer: str | None = None  # the slash command's private answer, once shown
        self._clock: asyncio.Timeout | None = None
        self._bold = out.isatty() and not os.environ.get("NO_COLOR")

    async def run(self, task: str) -> int:
        unsubscribe = self.slack.on_activity(self._queue.put_nowait)
        try:
            async with asyncio.timeout(self.bot_time_s) as self._clock:
                return await self._converse(task)
        except TimeoutError:
            self._print(
                f"\nThe demo gave up: the bot did not finish within {self.bot_time_s:.0f} s (time at the prompts\n"
                "not counted). Run it again with LOG_LEVEL=DEBUG to see what the bot was doing."
            )
            return 1
        except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels the demo, which then closes everything
            self._print("\nInterrupted: stopping the bot and the emulator.")
            # Stopping the run cancels the agent's wait; AutoGen's runtime logs that as an error, expected here.
            logging.getLogger("autogen_core").setLevel(logging.CRITICAL)
            raise
        finally:
            unsubscribe()

    async def _converse(self, task: str) -> int:
        self._heading(f"#{self._channel_name(self.slack.general)}  {USER_NAME}:")
        self._body(f"/agent-task {task}")
        await self.slack.slash_command(self.user, task, channel_id=self.slack.general)
        # The command's private answer ("Started ...") comes first in Slack; the card may overtake it here.
        await self._pump(lambda: self._answer is not None, REPLY_S)
        if self._answer is not None and not self._answer.startswith("Started"):  # help, or an unknown workflow
            self._print("\nNo run was started, so the demo ends here.")
            await self._drain()
            return 0 if self._answer.startswith("Usage") else 1
        while True:
            activity = self._deferred.popleft() if self._deferred else await self._queue.get()
            actionable = self._is_report(activity) or self._is_new_card(activity)
            if actionable and self._awaiting_edit:
                # A decided card's edit may land after what it caused; show it first.
                self._deferred.appendleft(activity)
                if not await self._pump(lambda: not self._awaiting_edit, SETTLE_S):
                    self._awaiting_edit.clear()
                continue
            self._show(activity)
            if self._is_report(activity):
                await self._drain()
                return self._finish(activity)
            if self._is_new_card(activity):
                await self._decide(activity)

    # -- deciding --------------------------------------------------------------------------------------

    async def _decide(self, card: Activity) -> None:
        choice = await self._choose(card)
        if choice == "revise":
            await self.slack.click(self.user, card.channel, card.ts, ACTION_REVISE)
            # The bot asks for the feedback in the card's thread: show that before asking for it.
            await self._pump(lambda: card.ts in self._bot_replied_in, REPLY_S)
            feedback = await self._feedback()
            if feedback is not None:
                await self.slack.user_message(self.user, card.channel, feedback, thread_ts=card.ts)
                self._awaiting_edit.add(card.ts)
                return
            choice = "cancel"
        action = ACTION_APPROVE if choice == "approve" else ACTION_CANCEL
        await self.slack.click(self.user, card.channel, card.ts, action)
        self._awaiting_edit.add(card.ts)

    async def _choose(self, card: Activity) -> str:
        title, question = _confirm_dialog(card.blocks)
        if self.auto:
            choice = self._plan.pop(0) if self._plan else "approve"
            self._print(f"\n{_QUESTION}{choice[0]}    (--auto {self.auto})")
            if choice == "cancel":
                self._print(f"{question}\n{title} [y/N] y" if question else f"{title} [y/N] y")
            return choice
        while True:
            answer = await self._ask("\n" + _QUESTION)
            if answer is None:
                self._print("(no more input: the demo cancels the request)")
                return "cancel"
            picked = _ANSWERS.get(answer.strip().lower())
            if picked is None:
                self._print("Please answer a (approve), r (revise) or c (cancel).")
                continue
            choice = picked
            if choice != "cancel":
                return choice
            if question:
                self._print(question)
            confirm = await self._ask(f"{title} [y/N] ")
            if confirm is None:
                self._print("(no more input: the demo cancels the request)")
                return "cancel"
            if confirm.strip().lower() in ("y", "yes"):
                return "cancel"
            self._print("Kept waiting; the request is still open.")

    async def _feedback(self) -> str | None:
        if self.auto:
            self._print(f"\nFeedback: {AUTO_FEEDBACK}")
            return AUTO_FEEDBACK
        while True:
            answer = await self._ask("\nFeedback: ")
            if answer is None:
                self._print("(no more input: the demo cancels the request instead)")
                return None
            if answer.strip():
                return answer.strip()
            self._print("Type what should change (the agent reads it), then Enter.")

    async def _ask(self, prompt: str) -> str | None:
        """A line from the person; the bot's time budget stops while they think."""
        loop = asyncio.get_running_loop()
        left = None
        if self._clock is not None and (when := self._clock.when()) is not None:
            left = when - loop.time()
            self._clock.reschedule(None)
        try:
            self.out.write(prompt)
            self.out.flush()
            answer = await self.terminal.readline()
            if answer is None:
                self._print("")  # end the prompt's line
            elif not self.terminal.echoes:
                self._print(answer)  # piped input: show what was answered, as a terminal would
            return answer
        finally:
            if self._clock is not None and left is not None:
                self._clock.reschedule(loop.time() + left)

    # -- the transcript --------------------------------------------------------------------------------

    async def _pump(self, done: Callable[[], bool], timeout: float) -> bool:
        """Show activity until ``done()``; cards and reports are kept for the main loop. False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    activity = await self._queue.get()
                    if self._is_report(activity) or self._is_new_card(activity):
                        self._deferred.append(activity)
                    else:
                        self._show(activity)
            return True
        except TimeoutError:
            return False

    def _show(self, activity: Activity) -> None:
        names = self._names()
        reply = activity.thread_ts is not None and activity.thread_ts != activity.ts
        where = f"#{activity.channel_name}"
        who = f"↳ {activity.user_name}, in the thread" if reply else activity.user_name
        tags = {"update": " (edited)", "ephemeral": " (only visible to you)", "delete": " (deleted)"}
        self._heading(f"{where}  {who}{tags.get(activity.kind, '')}:")
        indent = _INDENT * 2 if reply else _INDENT
        if activity.kind == "delete":
            self._body("(this message was deleted)", indent)
            self._versions.pop(activity.ts, None)
            return
        previous = self._versions.get(activity.ts) if activity.kind == "update" else None
        self._body(render_message(activity.text, activity.blocks, names, previous=previous), indent)
        if activity.kind != "ephemeral":
            self._versions[activity.ts] = activity.blocks
        if activity.kind == "update" and not _action_ids(activity.blocks):
            self._awaiting_edit.discard(activity.ts)
        if activity.source == "ack":
            self._answer = activity.text
        if reply and activity.user == self.slack.bot_user_id and activity.thread_ts:
            self._bot_replied_in.add(activity.thread_ts)

    async def _drain(self) -> None:
        """Let the bot acknowledge every envelope in flight before it is stopped (the events of its own last posts
        reach it just after them); stopping it mid-answer would make Bolt log an error."""

        def acked() -> bool:
            return all(envelope.envelope_id in self.slack.acks for envelope in self.slack.envelopes)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                seen = -1
                while seen != len(self.slack.envelopes):
                    seen = len(self.slack.envelopes)
                    await self.slack.wait_for(acked, DRAIN_S)
                    await asyncio.sleep(0.05)  # an event of the bot's last post may still be on its way

    def _finish(self, report: Activity) -> int:
        failed = report.text.startswith("⚠️")
        self._print(
            "\nThe demo is over" + (": the run failed (see above)." if failed else ".") + "\n"
            'Try another task with  approval-bot demo --task "..."  or use your own workspace: see\n'
            "“Run it in your Slack workspace” in README.md."
        )
        return 1 if failed else 0

    def _is_new_card(self, activity: Activity) -> bool:
        return (
            activity.kind == "message"
            and activity.channel == self.approvals
            and activity.user == self.slack.bot_user_id
            and (activity.thread_ts is None or activity.thread_ts == activity.ts)
            and ACTION_APPROVE in _action_ids(activity.blocks)
        )

    def _is_report(self, activity: Activity) -> bool:
        return (
            activity.kind == "ephemeral"
            and activity.to_user == self.user
            and activity.text.startswith(REPORT_MARKS)
            and "Your" in activity.text
        )

    def _names(self) -> dict[str, str]:
        ws = self.slack.workspace
        return {u.id: u.name for u in ws.users.values()} | {c.id: c.name for c in ws.channels.values()}

    def _channel_name(self, channel_id: str) -> str:
        return self._names().get(channel_id, channel_id)

    def _heading(self, line: str) -> None:
        self._print("\n" + (f"\033[1m{line}\033[0m" if self._bold else line))

    def _body(self, text: str, indent: str = _INDENT) -> None:
        width = min(shutil.get_terminal_size((WIDTH, 24)).columns, WIDTH)
        self._print("\n".join(_wrap(line, indent, width) for line in text.split("\n")))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def _wrap(line: str, indent: str, width: int) -> str:
    """One line of a message, indented and wrapped at word boundaries as Slack wraps it (URLs stay whole)."""
    if len(indent) + len(line) <= width:
        return (indent + line).rstrip()
    lead = line[: len(line) - len(line.lstrip(GUTTER + " -•"))]  # a quote gutter, a bullet: kept as the margin
    margin = indent + (GUTTER if lead.startswith(GUTTER) else " " * len(lead))
    return textwrap.fill(
        line, width, initial_indent=indent, subsequent_indent=margin, break_long_words=False, break_on_hyphens=False
    )


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        str(element.get("action_id"))
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements", [])
        if isinstance(element, dict)
    ]


def _confirm_dialog(blocks: list[dict[str, Any]]) -> tuple[str, str]:
    """The title and text of the Cancel button's confirmation dialog (Slack shows it before the click counts)."""
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            confirm = element.get("confirm") if isinstance(element, dict) else None
            if isinstance(confirm, dict) and element.get("action_id") == ACTION_CANCEL:
                return str(confirm.get("title", {}).get("text") or "Are you sure?"), str(
                    confirm.get("text", {}).get("text") or ""
                )
    return "Cancel this request?", ""
