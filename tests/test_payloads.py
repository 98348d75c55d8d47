"""Pure parsing of Slack payloads and command text: what a person types and what Slack sends."""

from __future__ import annotations

import pytest

from bot.slack.payloads import (
    TaskCommand,
    feedback_text,
    mentioned_users,
    parse_click,
    parse_task,
    parse_thread_reply,
    readable,
)

WORKFLOWS = ("draft", "plan")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("   ", None),
        ("help", None),
        ("HELP", None),
        ("draft:", None),
        ("Send the Q3 email", TaskCommand(None, "Send the Q3 email")),
        ("draft: Send the Q3 email", TaskCommand("draft", "Send the Q3 email")),
        ("Draft:Send it", TaskCommand("draft", "Send it")),
        ("plan: add a health check", TaskCommand("plan", "add a health check")),
        ("nosuch: do it", TaskCommand(None, "nosuch: do it")),
        ("Re: invoice for ACME", TaskCommand(None, "Re: invoice for ACME")),
        ("re: invoice", TaskCommand(None, "re: invoice")),
        ("TODO: ship it", TaskCommand(None, "TODO: ship it")),
        ("https://example.com/x summarise this", TaskCommand(None, "https://example.com/x summarise this")),
        ("Fix the bug: login fails", TaskCommand(None, "Fix the bug: login fails")),
        ("write &lt;b&gt; &amp; more", TaskCommand(None, "write <b> & more")),
    ],
)
def test_parse_task(text: str, expected: TaskCommand | None) -> None:
    assert parse_task(text, WORKFLOWS) == expected


def test_parse_click_reads_a_real_block_actions_payload() -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "U0ALICE123"},
        "container": {"type": "message", "message_ts": "1714000000.000100", "channel_id": "C0APPROVAL"},
        "channel": {"id": "C0APPROVAL"},
        "actions": [{"action_id": "approval_approve", "value": "wf1.0", "block_id": "approval_actions"}],
    }

    click = parse_click(body)

    assert click is not None
    assert (click.user, click.action_id, click.approval_id, click.channel, click.message_ts) == (
        "U0ALICE123",
        "approval_approve",
        "wf1.0",
        "C0APPROVAL",
        "1714000000.000100",
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"actions": []},
        {"actions": "nope", "user": {"id": "U1"}},
        {"actions": [{"action_id": 5}], "user": {"id": "U1"}, "channel": {"id": "C1"}, "container": {}},
        {"actions": [{"action_id": "a"}], "user": "U1"},
        {"actions": [{"action_id": "a"}], "user": {"id": "U1"}, "channel": None, "container": None, "message": {}},
    ],
)
def test_parse_click_refuses_garbage(body: dict) -> None:
    assert parse_click(body) is None


def test_thread_reply_is_read_and_its_feedback_is_readable() -> None:
    text = "a &amp; b, see <https://ex.com/x?a=1&amp;b=2|the spec> and <https://ex.com/y>, ask <@U0BOB4567>"
    event = {"type": "message", "user": "U1", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": text}

    reply = parse_thread_reply(event)

    assert reply is not None and (reply.user, reply.thread_ts, reply.ts) == ("U1", "1.0", "2.0")
    assert mentioned_users(reply.text) == {"U0BOB4567"}
    assert feedback_text(reply, {"U0BOB4567": "bob"}) == (
        "a & b, see the spec (https://ex.com/x?a=1&b=2) and https://ex.com/y, ask @bob"
    )
    assert feedback_text(reply, {}).endswith("ask @U0BOB4567")


def test_reply_with_files_counts_and_names_them() -> None:
    event = {
        "type": "message",
        "subtype": "file_share",
        "user": "U1",
        "channel": "C1",
        "ts": "2.0",
        "thread_ts": "1.0",
        "text": "",
        "files": [{"id": "F1", "name": "fix.diff", "permalink": "https://acme.slack.com/files/U1/F1/fix.diff"}],
    }

    reply = parse_thread_reply(event)

    assert reply is not None
    assert feedback_text(reply, {}) == "[attached file: fix.diff (https://acme.slack.com/files/U1/F1/fix.diff)]"


def test_the_bots_own_mention_is_dropped_and_special_mentions_stay_words() -> None:
    text = "<@U0BOT0001> shorter please, cc <!here> and <!subteam^S0OPS|@ops> in <#C0GEN|general>"

    assert readable(text, {}, drop="U0BOT0001") == "shorter please, cc @here and @ops in #general"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "user": "U1", "channel": "C1", "ts": "1.0", "text": "top level"},
        {"type": "message", "user": "U1", "channel": "C1", "ts": "1.0", "thread_ts": "1.0", "text": "parent"},
        {
            "type": "message",
            "bot_id": "B1",
            "user": "U1",
            "channel": "C1",
            "ts": "2.0",
            "thread_ts": "1.0",
            "text": "x",
        },
        {"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "2.0", "thread_ts": "1.0"},
        {"type": "message", "user": "U1", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "   "},
    ],
)
def test_other_messages_are_not_thread_replies(event: dict) -> None:
    assert parse_thread_reply(event) is None
