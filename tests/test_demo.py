"""``approval-bot demo`` run as a person runs it (a subprocess, a clean environment), and its message renderer."""

from __future__ import annotations

import io
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.approvals.models import Approval, State
from bot.demo.terminal import Terminal
from bot.demo.transcript import DEFAULT_TASK, Demo
from bot.sandbox import SlackEmulator
from bot.sandbox.render import render_message, render_mrkdwn
from bot.slack.blocks import decided_blocks, prompt_blocks, prompt_text
from bot.slack.scopes import REQUIRED_SCOPES
from workflows.model import DEMO_DRAFTS

FIRST_DRAFT = "Release 2.4 ships today with faster approvals and a new audit export."
REVISED_DRAFT = "- Please upgrade by Friday"  # "Shorter, and use bullet points": the scripted writer applies it
BUTTONS = "[ Approve ]  [ Edit ]  [ Revise ]  [ Cancel ]"
QUESTION = "Approve, Revise or Cancel? [a/r/c]"


def clean_env() -> dict[str, str]:
    """The environment of a fresh machine: no Redis, model, Slack or proxy settings."""
    dropped = ("REDIS_", "OPENAI_", "MODEL_", "SLACK_", "APPROV", "LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and "PROXY" not in k.upper()}
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("COLUMNS", None)  # the transcript wraps at its own width, not at whatever width the test runner has
    env.pop("LINES", None)
    return env


def demo(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--terminal", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env or clean_env(),
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert "Warning" not in done.stderr and "ERROR" not in done.stderr, output
    return done.returncode, done.stdout


def after(text: str, *parts: str) -> bool:
    """``parts`` appear in ``text`` in this order."""
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


# --- the command -------------------------------------------------------------------------------------------------


def test_auto_approve(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--auto", "approve")

    assert status == 0, out
    assert "offline" in out and "emulat" in out  # the intro says what is going on
    assert "#general  you:\n    /agent-task Draft the announcement email for release 2.4" in out
    assert "(only visible to you)" in out and "Started draft" in out
    assert "#approvals  approval-bot:\n    Approval needed\n    Requested by @you for draft, step 1" in out
    assert after(out, "Subject: Release 2.4 is out", FIRST_DRAFT, BUTTONS, f"{QUESTION} a")
    assert after(out, f"{QUESTION} a", "(edited)", "✅ Approved by @you", "✅ Your draft", FIRST_DRAFT)
    assert "<@" not in out and "<!date" not in out and "&gt;" not in out
    assert REVISED_DRAFT not in out
    assert out.count(BUTTONS) == 1


def test_auto_revise_then_approve(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--auto", "revise")

    assert status == 0, out
    assert after(
        out,
        FIRST_DRAFT,
        BUTTONS,
        f"{QUESTION} r",
        "↳ approval-bot, in the thread:",
        "Reply in this thread",
        "Feedback: Shorter, and use bullet points",
        "↳ you, in the thread:\n        Shorter, and use bullet points",
        "approval-bot (edited):\n    ✏️ Revision requested",
        "step 1",
        "this is a revision of the previous version",
        REVISED_DRAFT,
        BUTTONS,
        f"{QUESTION} a",
        "✅ Approved by @you",
        "✅ Your draft",
        REVISED_DRAFT,
        "The demo is over.",
    ), out
    assert out.count(BUTTONS) == 2


def test_auto_cancel(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--auto", "cancel")

    assert status == 0, out
    assert after(
        out,
        FIRST_DRAFT,
        BUTTONS,
        f"{QUESTION} c",
        "Cancel this request? [y/N] y",
        "🛑 Cancelled by @you",
        "🛑 Your draft",
        "was cancelled by @you",
    ), out
    assert "✅" not in out


def test_interactive_revise_then_approve(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--task", "Write the release email", stdin="r\nMake it shorter\na\n")

    assert status == 0, out
    assert "/agent-task Write the release email" in out
    assert after(
        out,
        FIRST_DRAFT,
        f"{QUESTION} r\n",
        "Reply in this thread",
        "Feedback: Make it shorter\n",
        "↳ you, in the thread:\n        Make it shorter",
        "Revision 1 of at most",
        f"{QUESTION} a\n",
        "✅ Your draft",
    ), out
    revised = " ".join(out.split("Revision 1 of at most")[1].split(QUESTION)[0].replace("│", " ").split())
    assert "audit export. Please upgrade by Friday. Thanks, The platform team" in revised, out  # its last sentence gone
    approved = out.split("✅ Your draft")[-1]
    assert "Please upgrade by" in approved and "Reply here with any questions" not in approved, out


def test_interactive_end_of_input_cancels(tmp_path: Path) -> None:
    status, out = demo(tmp_path, stdin="maybe\n")

    assert status == 0, out
    assert after(out, "Please answer a (approve), r (revise) or c (cancel).", "no more input", "🛑 Your draft"), out


def test_proxy_variables_do_not_reroute_the_local_slack(tmp_path: Path) -> None:
    env = clean_env() | {"HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    status, out = demo(tmp_path, "--auto", "approve", env=env)

    assert status == 0, out
    assert "✅ Your draft" in out


def read_until(process: subprocess.Popen[bytes], marker: bytes, timeout: float = 30) -> bytes:
    """What ``process`` prints until ``marker`` appears, it closes its output, or ``timeout`` passes."""
    assert process.stdout is not None
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
    return seen


def test_ctrl_c_at_the_prompt_stops_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--terminal"],
        stdin=subprocess.PIPE,  # kept open: the demo waits at its question
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=clean_env(),
    )
    seen = read_until(process, b"[a/r/c]")
    assert b"[a/r/c]" in seen, seen.decode(errors="replace")

    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    output = (seen + rest).decode(errors="replace")

    assert process.returncode == 130, output
    assert "Interrupted: stopping the bot and the emulator." in output
    assert "Traceback" not in output and "ERROR" not in output, output


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    env = clean_env() | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--auto", "approve"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("approval-bot: cannot reach Redis at redis://127.0.0.1:1/0")
    assert len(done.stderr.strip().splitlines()) == 1


async def test_gives_up_with_a_clear_message_when_the_bot_never_answers() -> None:
    out = io.StringIO()
    async with SlackEmulator(scopes=REQUIRED_SCOPES) as slack:  # no bot connected: the slash command is never delivered
        user = slack.add_user("you")
        approvals = slack.add_channel("approvals", members=[user])
        demo = Demo(slack, user, approvals, auto="approve", out=out, terminal=Terminal(None), bot_time_s=0.3)

        assert await demo.run("anything") == 1
    assert "The demo gave up" in out.getvalue()


# --- render_message ----------------------------------------------------------------------------------------------

NAMES = {"U0SBX00001": "alice", "C0SBX00002": "approvals"}


def test_mentions_channels_and_specials() -> None:
    text = "<@U0SBX00001> in <#C0SBX00002>, <@U0UNKNOWN> in <#C0OTHER|random>, <!here> <!subteam^S1|@ops>"

    assert render_mrkdwn(text, NAMES) == "@alice in #approvals, @U0UNKNOWN in #random, @here @ops"


def test_dates_show_their_fallback() -> None:
    assert render_mrkdwn("*Asked:* <!date^1714000000^{date_short_pretty} at {time}|2024-04-24 23:06 UTC>") == (
        "Asked: 2024-04-24 23:06 UTC"
    )


def test_links() -> None:
    assert render_mrkdwn("see <https://example.com/a_b|the docs> or <https://example.com>") == (
        "see the docs (https://example.com/a_b) or https://example.com"
    )
    assert render_mrkdwn("<mailto:ops@example.com|ops@example.com>") == "ops@example.com"


def test_entities_are_unescaped_last_so_escaped_text_stays_text() -> None:
    escaped = "Ping &lt;!channel&gt; &amp; &lt;@U0SBX00001&gt;, a &amp;lt; b"

    assert render_mrkdwn(escaped, NAMES) == "Ping <!channel> & <@U0SBX00001>, a &lt; b"


def test_bold_and_italic_markers_go_code_stays() -> None:
    assert render_mrkdwn("*Requested by* you, _(no text)_, `wf-1.0`, 2 * 3 * 4, snake_case_name") == (
        "Requested by you, (no text), `wf-1.0`, 2 * 3 * 4, snake_case_name"
    )
    assert render_mrkdwn("Result:\n```Hi *team*\n\nBye```") == "Result:\n│ Hi *team*\n│\n│ Bye"
    assert render_mrkdwn("Result: ```one```") == "Result: \n│ one"


def approval(**changes: object) -> Approval:
    fields: dict[str, object] = {
        "id": "wf-abc.0",
        "workflow_id": "wf-abc",
        "step": 0,
        "state": State.PENDING,
        "prompt": DEMO_DRAFTS[0] + "\n<!channel> & co",
        "requester": "U0SBX00001",
        "workflow": "draft",
        "created_ms": 1_714_000_000_000,
        "deadline_ms": 1_714_003_600_000,
    }
    return Approval(**(fields | changes))  # type: ignore[arg-type]


def test_a_card_reads_top_to_bottom_with_its_buttons() -> None:
    card = approval()
    shown = render_message(prompt_text(card), prompt_blocks(card), NAMES)

    assert shown.startswith("Approval needed\nRequested by @alice for draft, step 0 (`wf-abc.0`)\nAsked: 2024-04-2")
    assert "Expires: " in shown and "<!date" not in shown
    assert "\n\nSubject: Release 2.4 is out\n\nHi team," in shown
    assert "<!channel> & co" in shown  # the agent's text, unescaped for reading, never a ping
    assert shown.endswith("\n\n[ Approve ]  [ Revise ]  [ Cancel ]")


def test_an_edit_collapses_what_did_not_change() -> None:
    card = approval()
    decided = approval(state=State.APPROVED, decider="U0SBX00001", decided_ms=1_714_000_060_000)
    shown = render_message("", decided_blocks(decided), NAMES, previous=prompt_blocks(card))

    assert shown.startswith("✅ Approved\nRequested by @alice")
    assert "Hi team" not in shown and "\n\n…\n\n" in shown
    assert shown.endswith("✅ Approved by @alice at 2024-04-24 23:07 UTC")
    assert "[ Approve ]" not in shown


def test_other_blocks_and_plain_text() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Service:* api"},
            "fields": [{"type": "plain_text", "text": "region: eu"}],
            "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Details"}, "action_id": "d"},
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "by <@U0SBX00001>"}, {"type": "image"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "static_select", "placeholder": {"type": "plain_text", "text": "Pick"}, "action_id": "s"},
                {"type": "overflow", "action_id": "o"},
            ],
        },
        {"type": "unknown_kind"},
    ]

    assert render_message("fallback", blocks, NAMES) == (
        "Deploy\nService: api\nregion: eu\n[ Details ]\n\n" + "─" * 24 + "\n\nby @alice\n\n[ Pick ▾ ]  [ … ]"
    )
    assert render_message("Hi <@U0SBX00001> &amp; all", [], NAMES) == "Hi @alice & all"
    assert render_message("Hi", None) == "Hi"


@pytest.mark.parametrize("junk", [None, "text", 3, {"type": "section", "text": "not an object"}])
def test_malformed_blocks_are_skipped(junk: object) -> None:
    assert render_message("the text", [junk]) == "the text"


def test_the_demo_offers_ops_with_its_tools_and_policy(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--auto", "approve", "--task", "ops: win back inactive customers")

    assert status == 0, out
    assert "Run the tool `send_email`?" in out and "alan@example.com" in out
    assert "find_customers" not in out  # the built-in policy ran the read without a card
    assert "✅ Your ops" in out and "emailed Alan Turing" in out
    assert list(tmp_path.iterdir()) == []  # its database lives in a scratch directory, not where you ran it


def test_the_demo_offers_plan_with_a_code_card(tmp_path: Path) -> None:
    status, out = demo(tmp_path, "--auto", "approve", "--task", "plan: count our customers")

    assert status == 0, out
    assert after(out, "1. Count the customers", "Run this code?", 'echo "customers: 5', "✅ Your plan")
    assert "This is a revision" not in out


# --- the browser mode ---------------------------------------------------------------------------------------------


def start_page_demo(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """``approval-bot demo`` in its default (browser) mode; the process, its page's URL and what it printed."""
    env = clean_env()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
    )
    out = read_until(process, b"Ctrl-C stops everything").decode(errors="replace")
    urls = [line.split()[-1] for line in out.splitlines() if line.strip().startswith("Open ")]
    if len(urls) != 1:
        process.kill()
    assert len(urls) == 1, out
    return process, urls[0], out


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    return process.returncode, rest.decode(errors="replace")


def test_the_default_demo_serves_the_sandbox_page_until_ctrl_c(tmp_path: Path) -> None:
    process, url, out = start_page_demo(tmp_path)
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            page = answer.read().decode()
            kind = answer.headers.get("Content-Type", "")
    finally:
        status, rest = stop(process)

    assert url.startswith("http://127.0.0.1:") and url.endswith("/"), out
    assert "text/html" in kind and "<html" in page.lower()
    assert "@alice, @bob, @carol" in out and "/agent-task" in out
    assert "No browser to open here" in out  # no screen: nothing was opened, and it says so
    assert status == 0, out + rest
    assert "Stopping the demo." in rest
    assert "Traceback" not in out + rest and "ERROR" not in out + rest, out + rest


def test_no_browser_opens_nothing_and_says_nothing_about_it(tmp_path: Path) -> None:
    process, _, out = start_page_demo(tmp_path, "--no-browser")
    status, rest = stop(process)

    assert "No browser to open here" not in out
    assert status == 0, out + rest


def test_a_task_given_to_the_browser_demo_is_typed_for_alice_and_its_card_waits(tmp_path: Path) -> None:
    process, url, out = start_page_demo(tmp_path, "--no-browser", "--task", DEFAULT_TASK)
    try:
        card = poll_page(url, lambda seen: "Approval needed" in seen and "Release 2.4 is out" in seen)
    finally:
        status, rest = stop(process)

    assert card, out + rest
    assert status == 0, out + rest


def poll_page(url: str, ready: Callable[[str], bool], timeout: float = 30) -> bool:
    """Read the page's state (as its first person, alice) until ``ready`` holds for it, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}page/state", timeout=10) as answer:
            if ready(answer.read().decode()):
                return True
        time.sleep(0.2)  # the next look at a condition polled until its deadline, not a wait standing in for one
    return False
