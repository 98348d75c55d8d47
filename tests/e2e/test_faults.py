"""The real bot process through bad input, Slack faults, restarts and two replicas."""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_1, People
from tests.e2e.test_approval_flow import (
    DECISION_BUTTONS,
    action_ids,
    decided_card,
    post_prompt,
    report_to,
    start_task,
    texts,
)


async def test_timeout_expires_the_card_and_refuses_late_clicks(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot(APPROVAL_TIMEOUT="1")
    card = await start_task(slack, people)
    stale_click = slack.build_click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # a stale screen

    expired = await decided_card(slack, people, card.ts)
    report = await report_to(slack, people.alice, "expired")
    await slack.send_interactive(stale_click)
    late = await slack.wait_for(lambda: next(iter(slack.ephemerals(people.bob)), None), timeout=10)

    assert "Expired" in texts(expired.blocks)
    assert "nobody decided" in report.text
    assert "expired" in late.text


async def test_mentions_in_task_and_draft_never_ping(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot(answers=["Hi <!channel> and <!here>, see <https://evil.example|this> & <@U0ADMIN00>"])
    mark = slack.mark()

    command = await slack.slash_command(people.alice, "tell <!everyone> & <@U0BOSS000>", channel_id=people.general)
    ack = await slack.wait_ack(command, timeout=3)
    prompt = await post_prompt(slack, people, mark)
    card = slack.message(people.approvals, prompt.response["ts"])
    shown = texts(card.blocks) + "\n" + card.text + "\n" + ack["payload"]["text"]

    for control in ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@U0ADMIN00>", "<@U0BOSS000>"):
        assert control not in shown
    assert "&lt;!channel&gt;" in texts(card.blocks) and "&amp;" in texts(card.blocks)
    assert "&lt;!everyone&gt;" in ack["payload"]["text"]


async def test_rate_limited_first_post_is_retried(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    card = await start_task(slack, people)

    statuses = [c.status for c in slack.calls_to("chat.postMessage")]
    assert statuses[:2] == [429, 200]
    assert action_ids(card.blocks) == DECISION_BUTTONS


async def test_empty_and_help_start_nothing(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    answers = {}
    for text in ("", "   ", "help"):
        command = await slack.slash_command(people.alice, text, channel_id=people.general)
        answers[text] = (await slack.wait_ack(command, timeout=3))["payload"]["text"]

    for text in ("", "   ", "help"):
        assert "/agent-task <task>" in answers[text].replace("&lt;", "<").replace("&gt;", ">")
        assert "draft" in answers[text]
    assert [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == people.approvals] == []


async def test_garbage_payloads_are_acked_answered_and_survived(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    garbage = [
        {"type": "block_actions", "user": {"id": people.bob}, "channel": {"id": people.approvals},
         "container": {"channel_id": people.approvals, "message_ts": card.ts},
         "actions": [{"action_id": "definitely_not_ours", "value": "x"}], "trigger_id": "t-1"},
        {"type": "block_actions", "user": {"id": people.bob}, "channel": {"id": people.approvals},
         "container": {"channel_id": people.approvals, "message_ts": card.ts},
         "actions": [{"action_id": blocks.ACTION_APPROVE, "value": "no-such.7"}], "trigger_id": "t-2"},
        {"type": "something_new", "trigger_id": "t-3"},
        {"type": "block_actions", "actions": "not a list", "trigger_id": "t-4"},
    ]  # fmt: skip
    envelopes = [await slack.send_interactive(payload) for payload in garbage]
    await slack.send_raw("this is not json")
    acks = [await slack.wait_ack(envelope, timeout=3) for envelope in envelopes]
    answers = await slack.wait_for(
        lambda: slack.ephemerals(people.bob)[1:2] and slack.ephemerals(people.bob), timeout=5
    )

    assert all(ack["envelope_id"] == envelope.envelope_id for ack, envelope in zip(acks, envelopes, strict=True))
    assert "not one this bot knows" in answers[0].text
    assert "unknown or too old" in answers[1].text
    for answer in answers:
        assert "Error" not in answer.text and "Traceback" not in answer.text and "{" not in answer.text
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # the bot still works
    await report_to(slack, people.alice, "approved")


async def test_redelivered_envelopes_start_and_decide_once(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    mark = slack.mark()
    command = await slack.slash_command(people.alice, "Announce the Q3 launch", channel_id=people.general)
    await slack.wait_ack(command, timeout=3)
    prompt = await post_prompt(slack, people, mark)
    await slack.wait_ack(await slack.redeliver(command), timeout=3)
    after_first = slack.mark()

    await slack.click(people.bob, people.approvals, prompt.response["ts"], blocks.ACTION_REVISE)
    await slack.wait_for(lambda: slack.thread(people.approvals, prompt.response["ts"]), timeout=10)
    reply = await slack.user_message(people.bob, people.approvals, "Shorter", thread_ts=prompt.response["ts"])
    event = slack.event_envelope(reply.ts)
    await slack.wait_ack(await slack.redeliver(event), timeout=3)
    second = await post_prompt(slack, people, after_first)
    await slack.click(people.bob, people.approvals, second.response["ts"], blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "approved")

    prompts = [
        c for c in slack.calls_to("chat.postMessage")
        if c.params.get("channel") == people.approvals and not c.params.get("thread_ts")
    ]  # fmt: skip
    assert len(prompts) == 2  # one per approval: no second workflow, no second revision
    assert [e for e in slack.ephemerals(people.bob) if "already" in e.text] == []


async def test_socket_disconnects_and_drops_are_survived(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    card = await start_task(slack, people)

    [first] = slack.connections
    await slack.disconnect(first, reason="refresh_requested")
    [second] = await slack.wait_for(lambda: [c for c in slack.connections if c != first] or None, timeout=15)
    await slack.drop(second, abrupt=False)
    [third] = await slack.wait_for(lambda: [c for c in slack.connections if c not in (first, second)] or None, 15)
    await slack.drop(third, abrupt=True)  # a cut TCP connection: noticed by the client's ping check (~10 s)
    await slack.wait_for(lambda: [c for c in slack.connections if c not in (first, second, third)] or None, 40)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    await report_to(slack, people.alice, "approved")
    assert len(slack.calls_to("apps.connections.open")) >= 5  # the start-up check, then one per connection


async def test_two_processes_command_on_one_click_on_the_other(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()
    await start_bot()
    first, second = await slack.wait_connections(2)

    card = await start_task(slack, people, connection=first)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE, connection=second)

    report = await report_to(slack, people.alice, "approved")
    assert f"<@{people.bob}>" in report.text
    assert "Approved by" in texts((await decided_card(slack, people, card.ts)).blocks)


async def test_a_run_resumes_in_the_process_that_replaces_a_stopped_one(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    old = await start_bot()
    card = await start_task(slack, people)
    assert await old.stop() == 0  # SIGTERM: the run's lease is given back, its card stays pending
    await slack.wait_for(lambda: not slack.connections or None, timeout=15)

    await start_bot(connections=1)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    updated = await decided_card(slack, people, card.ts)
    assert f"Approved by <@{people.bob}>" in texts(updated.blocks)
    report = await report_to(slack, people.alice, "approved")  # the resumed run read the click and ended
    assert DRAFT_1.splitlines()[0] in report.text
    cards = [m for m in slack.messages(people.approvals) if m.blocks]
    assert [m.ts for m in cards] == [card.ts]  # the same card: the resumed run did not ask again


async def test_card_of_a_stopped_process_still_expires_on_time(slack: SlackEmulator, people: People, start_bot) -> None:
    old = await start_bot(APPROVAL_TIMEOUT="2")
    card = await start_task(slack, people)
    assert await old.stop() == 0  # nobody waits for this approval any more

    await start_bot(connections=1)  # another process's sweeper finds it past its deadline

    expired = await decided_card(slack, people, card.ts)
    assert "Expired" in texts(expired.blocks)


async def test_prompt_slack_refuses_to_post_cancels_and_says_so(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    slack.fail_next("chat.postMessage", status=200, error="msg_blocks_too_long")

    command = await slack.slash_command(people.alice, "Announce the Q3 launch", channel_id=people.general)
    await slack.wait_ack(command, timeout=3)
    report = await report_to(slack, people.alice, "cancelled")

    assert "could not be posted" in report.text
    assert len(slack.calls_to("chat.postMessage")) == 1  # a refusal is not retried: it would be refused again
