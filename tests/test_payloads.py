"""Pure parsing of Slack payloads and command text: what a person types and what Slack sends."""

from __future__ import annotations

import pytest

from bot.slack.payloads import TaskCommand, parse_click, parse_task, parse_thread_reply


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
        ("nosuch: do it", TaskCommand("nosuch", "do it")),
        ("https://example.com/x summarise this", TaskCommand(None, "https://example.com/x summarise this")),
        ("Fix the bug: login fails", TaskCommand(None, "Fix the bug: login fails")),
        ("write &lt;b&gt; &amp; more", TaskCommand(None, "write <b> & more")),
    ],
)
def test_parse_task(text: str, expected: TaskCommand | None) -> None:
    assert parse_task(text) == expected


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


def test_thread_reply_is_read_and_unescaped() -> None:
    event = {"type": "message", "user": "U1", "channel": "C1", "ts": "2.0", "thread_ts": "1.0", "text": "a &amp; b"}

    reply = parse_thread_reply(event)

    assert reply is not None and (reply.user, reply.thread_ts, reply.text) == ("U1", "1.0", "a & b")


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
