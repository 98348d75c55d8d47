"""HTTP mode end to end: the real bot (``approval-bot run`` with ``HTTP_PORT``, no app token) behind the emulator
delivering signed requests to its Request URL, as Slack does with ``manifest.http.yml``.

The flows of ``test_approval_flow`` (approve, revise via the thread, cancel, an unauthorized click, a double
click) run here unchanged over HTTP; the rest is what only HTTP mode has: signatures, Slack's HTTP retries,
replicas behind a load balancer.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.sandbox import Envelope, SlackEmulator
from bot.sandbox.signing import RETRY_NUM, RETRY_REASON
from bot.slack import blocks
from tests.botprocess import BotProcess
from tests.conditions import until
from tests.conftest import SIGNING_SECRET
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import (
    decided_card,
    post_prompt,
    report_to,
    start_task,
    test_cancel_ends_the_run_and_tells_the_requester,
    test_double_click_by_two_approvers_records_one,
    test_revise_through_the_thread_then_approve,
    test_slash_command_prompt_then_approve,
    test_unauthorized_click_changes_nothing,
    texts,
)
from tests.redis_server import free_port

SLACK_TRANSPORT = "http"
__all__ = [  # the Socket Mode flows, collected again here to run over HTTP
    "test_cancel_ends_the_run_and_tells_the_requester",
    "test_double_click_by_two_approvers_records_one",
    "test_revise_through_the_thread_then_approve",
    "test_slash_command_prompt_then_approve",
    "test_unauthorized_click_changes_nothing",
]
REFUSED = "refused a request with a bad or stale signature"


def cards(slack: SlackEmulator, people: People) -> list[str]:
    """The text of every card posted to #approvals (not thread replies)."""
    posted = [
        c.params.get("blocks") or []
        for c in slack.calls_to("chat.postMessage")
        if c.ok and c.params.get("channel") == people.approvals and not c.params.get("thread_ts")
    ]
    return [texts(json.loads(b) if isinstance(b, str) else b) for b in posted]


async def test_forged_and_stale_requests_are_refused_and_never_processed(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    bot = await start_bot()
    verified, _ = await slack.verify_url(bot.request_url)
    forged = await slack.send_forged("slash_commands", slack.build_command(people.alice, "Forged: wire the money"))
    stale = await slack.send_stale("slash_commands", slack.build_command(people.alice, "Replayed: wire the money"))
    card = await start_task(slack, people)
    approve = slack.build_click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    forged_click = await slack.send_forged("interactive", approve)
    stale_click = await slack.send_stale("interactive", approve)

    cancel = await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL)
    report = await report_to(slack, people.alice, "cancelled")
    replayed = await slack.replay(cancel)  # within the 5 minutes: the signature holds, the claim in Redis does not
    await until(lambda: "dropped a redelivered request" in bot.output(), timeout=10)

    assert verified  # Slack's url_verification challenge is answered
    assert [r.status for r in (forged, stale, forged_click, stale_click)] == [401] * 4
    assert replayed.status == 200 and not [m for m in slack.ephemerals(people.bob) if "already" in m.text]
    assert f"Cancelled by <@{people.bob}>" in texts((await decided_card(slack, people, card.ts)).blocks)
    assert "cancelled" in report.text  # the forged approval was never recorded: the real click decided
    assert len(cards(slack, people)) == 1 and "wire the money" not in "".join(cards(slack, people))
    log = bot.output()
    assert log.count(REFUSED) == 4
    assert SIGNING_SECRET not in log and "/response/" not in log  # neither the secret nor a response_url


@pytest.mark.parametrize("replicas", [1, 2], ids=["same-replica", "other-replica"])
async def test_an_event_retried_after_a_slow_answer_acts_once(
    slack: SlackEmulator, people: People, start_bot, replicas: int
) -> None:
    """Slack retries at the deadline without waiting for the slow answer; with two replicas the retry reaches the
    other one (the balancer took the slow one out). Whichever copy claims the event in Redis first is acted on;
    the other is dropped."""
    bots = [await start_bot() for _ in range(replicas)]
    slow = bots[0]
    card = await start_task(slack, people)
    mark = slack.mark()
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_REVISE)
    ask = await slack.next_call("chat.postMessage", since=mark, where=lambda c: c.params.get("thread_ts") == card.ts)
    await slack.wait_ack(await slack.wait_for(lambda: slack.event_envelope(ask.response["ts"])))  # its echo
    await slack.wait_for(lambda: all(e.envelope_id in slack.acks for e in slack.envelopes))

    def feedback(attempt: int) -> list[Envelope]:
        sent = [e for e in slack.envelopes if e.retry_attempt == attempt]
        return [e for e in sent if e.payload.get("event", {}).get("text") == "Shorter"]

    slow.pause()  # it receives the event but answers only after Slack's 3 s
    try:
        replying = asyncio.ensure_future(
            slack.user_message(people.bob, people.approvals, "Shorter", thread_ts=card.ts, connection=slow.request_url)
        )
        await slack.wait_for(lambda: feedback(0))
        if replicas > 1:
            slack.remove_request_url(slow.request_url)
        slack.advance(3.0)
        await replying
        [retry] = await slack.wait_for(lambda: feedback(1))
    finally:
        slow.resume()
    await slack.wait_ack(retry, timeout=5)
    second = await post_prompt(slack, people, mark)
    await slack.click(people.alice, people.approvals, second.response["ts"], blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "approved")

    def dropped() -> int:
        return sum(b.output().count("dropped a redelivered request") for b in bots)

    await until(lambda: dropped() > 0, timeout=10)

    headers = slack.request_of(retry).headers
    assert (headers[RETRY_NUM], headers[RETRY_REASON]) == ("1", "http_timeout")
    assert retry.connection == bots[-1].request_url
    [first] = feedback(0)
    assert [(f.outcome, f.reason) for f in slack.failures if f.envelope == first] == [("retried", "http_timeout")]
    assert feedback(2) == []  # the retry was answered in time
    assert len(cards(slack, people)) == 2  # the first card and one revision: the retry did not revise twice
    assert dropped() == 1  # of the two copies, one replica acted on one and the other (or the same) dropped one


async def test_two_replicas_behind_the_request_urls_decide_once(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    first, second = await start_bot(), await start_bot()
    card = await start_task(slack, people, connection=first.request_url)

    await asyncio.gather(
        slack.click(people.alice, people.approvals, card.ts, blocks.ACTION_APPROVE, connection=second.request_url),
        slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL, connection=first.request_url),
    )
    told = await slack.wait_for(
        lambda: next(
            (m for m in slack.ephemerals(people.alice) + slack.ephemerals(people.bob) if "already" in m.text), None
        ),
        timeout=10,
    )
    report = await report_to(slack, people.alice, "Your")

    outcome = texts((await decided_card(slack, people, card.ts)).blocks)
    if "Approved by" in outcome:
        assert "approved" in report.text and f"already approved by <@{people.alice}>" in told.text
    else:
        assert "cancelled" in report.text and f"already cancelled by <@{people.bob}>" in told.text
    assert len([m for m in slack.ephemerals(people.alice) if "Your" in m.text]) == 1
    assert {e.connection for e in slack.envelopes if e.type == "interactive"} == {first.request_url, second.request_url}


async def test_health_follows_the_http_server_and_redis(slack: SlackEmulator, people: People, start_bot) -> None:
    port = free_port()
    await start_bot(HEALTH_PORT=str(port), HEALTH_HOST="127.0.0.1")

    async with aiohttp.ClientSession() as session:

        async def health() -> tuple[int, dict[str, object]]:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as reply:
                return reply.status, json.loads(await reply.text())

        async def answers() -> bool:
            try:
                await health()
            except aiohttp.ClientError:
                return False
            return True

        await until(answers, timeout=10)
        assert await health() == (200, {"status": "ready", "slack": True, "redis": True})


async def failed_start(bot: BotProcess) -> str:
    """The last line of a bot that must exit 2 at start, with no traceback."""
    await bot.start()
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), 30)
    output = bot.output()
    assert code == 2 and "Traceback" not in output, output
    return output.strip().splitlines()[-1]


async def test_http_mode_without_the_signing_secret_fails_with_one_line(
    slack: SlackEmulator, people: People, redis_url: str, tmp_path: Path
) -> None:
    bot = BotProcess(slack, redis_url, tmp_path, answers=["draft"], args=("--http", str(free_port())))
    bot.env.update(SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET="")
    assert (await failed_start(bot)).startswith("approval-bot: SLACK_SIGNING_SECRET is missing")


async def test_a_port_in_use_fails_with_one_line(
    slack: SlackEmulator, people: People, redis_url: str, tmp_path: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        bot = BotProcess(slack, redis_url, tmp_path, answers=["draft"], args=("--http", str(port)))
        bot.env.update(SLACK_APP_TOKEN="", SLACK_SIGNING_SECRET=SIGNING_SECRET, HTTP_HOST="127.0.0.1")
        last = await failed_start(bot)
    assert last.startswith(f"approval-bot: cannot serve HTTP mode on 127.0.0.1:{port} (") and "HTTP_PORT" in last
    assert SIGNING_SECRET not in bot.output()


async def test_slack_probes_are_answered_without_acting(slack: SlackEmulator, people: People, start_bot) -> None:
    bot = await start_bot()
    assert bot.request_url is not None
    async with aiohttp.ClientSession() as session:
        ssl_check = await session.post(bot.request_url, data={"ssl_check": "1", "token": "legacy"})
        unsigned = await session.post(bot.request_url, data={"command": "/agent-task", "text": "Unsigned task"})
    card = await start_task(slack, people)  # the bot still works, and only this task got a card

    assert (ssl_check.status, unsigned.status) == (200, 401)
    assert len(cards(slack, people)) == 1 and "Unsigned" not in "".join(cards(slack, people))
    assert card is not None
    assert await bot.stop() == 0
    assert "everything handed over" in bot.output()
