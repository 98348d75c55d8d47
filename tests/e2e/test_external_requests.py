"""Asking from outside the bot: a script's request gets its card posted by a running bot (one card, whichever
replica, whenever one starts) and its decision back; the policy the bot publishes applies to it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import redis.asyncio as aioredis

from bot.approvals import ApprovalKey, ApprovalStore, keys
from bot.approvals.card_stream import CardStream
from bot.approvals.connection import connect
from bot.client import ApprovalClient, Decision
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.conditions import until
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import action_ids, decided_card, revise_in_thread, texts

ROOT = Path(__file__).resolve().parents[2]


def cards_of(slack: SlackEmulator, people: People, approval_id: str) -> list:
    return [
        m
        for m in slack.messages(people.approvals)
        if (m.metadata or {}).get("event_payload", {}).get("approval_id") == approval_id
    ]


async def card_for(slack: SlackEmulator, people: People, approval_id: str, timeout: float = 20):
    """The card of ``approval_id`` once it is posted."""
    [card] = await slack.wait_for(lambda: cards_of(slack, people, approval_id) or None, timeout=timeout)
    return card


async def handled(redis_url: str) -> None:
    """Until no card request is left in the stream or held by a replica: nothing more will be posted."""
    redis = aioredis.from_url(redis_url)
    try:

        async def empty() -> bool:
            if await redis.xlen(keys.CARD_REQUESTS):
                return False
            groups = await redis.xinfo_groups(keys.CARD_REQUESTS)
            return all(int(g["pending"]) == 0 for g in groups)

        await until(empty, timeout=20, what="card requests handled")
    finally:
        await redis.aclose()


async def published(redis_url: str) -> None:
    """Until a bot has published its policy (right after it connects)."""
    redis = aioredis.from_url(redis_url)
    try:
        copies = [keys.policy_key(tag) for tag in keys.all_buckets()]

        async def every_bucket() -> bool:
            return await redis.exists(*copies) == len(copies)

        await until(every_bucket, timeout=20)
    finally:
        await redis.aclose()


async def start_gate(redis_url: str, done: Path, version: str, *options: str) -> asyncio.subprocess.Process:
    """``examples/gate_deploy.py`` in its own process, gating a step that writes ``version`` to ``done``."""
    step = [sys.executable, "-c", f"open({str(done)!r}, 'w').write({version!r})"]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "gate_deploy.py"),
        "--redis-url",
        redis_url,
        *options,
        "--",
        *step,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )


async def test_a_script_asks_and_deploys_only_once_approved(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    await start_bot()
    done = tmp_path / "deployed"
    gate = await start_gate(
        redis_url,
        done,
        "v1.4",
        "--title",
        "Deploy <v1.4> & migrate",
        "--requester",
        people.alice,
        "--key",
        "deploy-v1.4",
    )
    card = await slack.wait_for(lambda: next(iter(slack.messages(people.approvals)), None), timeout=20)

    assert "Deploy &lt;v1.4&gt; &amp; migrate" in texts(card.blocks)  # escaped for mrkdwn
    assert f"*Requested by* <@{people.alice}> from outside the bot" in texts(card.blocks)
    assert card.text.startswith("Approval needed for a request from outside the bot")
    assert action_ids(card.blocks) == [blocks.ACTION_APPROVE, blocks.ACTION_REVISE, blocks.ACTION_CANCEL]
    assert not done.exists()

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    output, _ = await asyncio.wait_for(gate.communicate(), 20)

    assert gate.returncode == 0, output.decode()
    assert f"approved by {people.bob}" in output.decode()
    assert done.read_text() == "v1.4"
    assert f"Approved by <@{people.bob}>" in texts((await decided_card(slack, people, card.ts)).blocks)


async def test_a_cancelled_deploy_does_not_run(
    slack: SlackEmulator, people: People, start_bot, redis_url: str, tmp_path: Path
) -> None:
    await start_bot()
    done = tmp_path / "deployed"
    gate = await start_gate(redis_url, done, "v1.5", "--title", "Deploy v1.5")
    card = await slack.wait_for(lambda: next(iter(slack.messages(people.approvals)), None), timeout=20)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_CANCEL)
    output, _ = await asyncio.wait_for(gate.communicate(), 20)

    assert gate.returncode == 3 and f"cancelled by {people.bob}" in output.decode()
    assert not done.exists()


async def test_revise_and_cancel_come_back_typed(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    async with ApprovalClient(redis_url) as client:
        first = await client.request("Rotate the API keys", "all three", requester="ci:rotate")
        second = await client.request("Rotate the DB password", requester="ci:rotate")
        card = await card_for(slack, people, first.approval_id)
        other = await card_for(slack, people, second.approval_id)

        await revise_in_thread(slack, people, card.ts, "only the staging ones")
        await slack.click(people.alice, people.approvals, other.ts, blocks.ACTION_CANCEL)
        revised = await client.wait(first.approval_id, timeout=15)
        cancelled = await client.wait(second.approval_id, timeout=15)

    assert isinstance(revised, Decision) and revised.status == "revised"
    assert revised.by == people.bob and revised.feedback == "only the staging ones" and revised.at is not None
    assert isinstance(cancelled, Decision) and cancelled.status == "cancelled" and cancelled.by == people.alice


async def test_a_request_made_while_no_bot_runs_is_posted_when_one_starts(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    async with ApprovalClient(redis_url) as client:
        asked = await client.request("Restart the billing workers", requester=people.alice, key="restart-1")
        assert await client.wait(asked.approval_id, timeout=0.5) is None
        assert slack.messages(people.approvals) == []

        await start_bot()
        card = await card_for(slack, people, asked.approval_id)
        await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
        decision = await client.wait(asked.approval_id, timeout=15)

    assert decision is not None and decision.status == "approved" and decision.by == people.bob


async def test_two_replicas_post_each_card_once(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    await start_bot()
    async with ApprovalClient(redis_url) as client:
        asked = [await client.request(f"Scale shard {n}", key=f"scale-{n}") for n in range(4)]
        again = [await client.request(f"Scale shard {n}", key=f"scale-{n}") for n in range(4)]  # a retried job
        for request in asked:
            await card_for(slack, people, request.approval_id)
        await handled(redis_url)

    assert [a.approval_id for a in again] == [a.approval_id for a in asked]
    assert [len(cards_of(slack, people, a.approval_id)) for a in asked] == [1, 1, 1, 1]
    assert len(slack.messages(people.approvals)) == 4


async def test_a_replica_killed_before_posting_is_taken_over(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    first = await start_bot(CARD_LEASE="4")
    slack.fail_next("chat.postMessage", status=429, retry_after=30)  # it takes the request, then Slack holds it
    mark = slack.mark()
    async with ApprovalClient(redis_url) as client:
        asked = await client.request("Fail over the primary", key="failover")
        await slack.next_call("chat.postMessage", since=mark, timeout=20, where=lambda c: c.status == 429)
        await first.kill()
        assert slack.messages(people.approvals) == []

        await start_bot(CARD_LEASE="4", connections=1)
        card = await card_for(slack, people, asked.approval_id)
        await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
        decision = await client.wait(asked.approval_id, timeout=15)
        await handled(redis_url)

    assert decision is not None and decision.status == "approved"
    assert len(cards_of(slack, people, asked.approval_id)) == 1


async def test_a_tool_request_denied_by_the_policy_gets_no_card(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()  # the built-in policy: DDL through run_sql is denied
    await published(redis_url)
    async with ApprovalClient(redis_url) as client:
        decision = await client.ask(
            "Tidy the database", requester=people.alice, tool="run_sql", arguments={"query": "DROP TABLE customers"}
        )
        read = await client.ask("Count customers", tool="run_sql", arguments={"query": "SELECT count(*) FROM c"})
    redis = connect(redis_url)
    try:  # a run's approval asked for by name is its run's to post, never the stream's
        store = ApprovalStore(redis)
        run = await store.create(
            ApprovalKey("wf-run", 1), prompt="a draft", requester=people.alice, workflow="draft", timeout_s=60
        )
        await CardStream(redis).request(run.id)
        await handled(redis_url)
    finally:
        await redis.aclose()

    assert decision.status == "denied" and decision.by == "policy:sql-ddl" and decision.rule == "sql-ddl"
    assert read.status == "approved" and read.by == "policy:sql-select"
    assert slack.messages(people.approvals) == []


async def test_a_request_for_another_channel_or_a_refused_card_is_cancelled_saying_why(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    async with ApprovalClient(redis_url, channel="#elsewhere") as elsewhere:
        wrong = await elsewhere.wait((await elsewhere.request("Purge the CDN")).approval_id, timeout=15)
    slack.fail_next("chat.postMessage", status=200, error="msg_blocks_too_long")
    async with ApprovalClient(redis_url, channel="approvals") as client:
        refused = await client.wait((await client.request("Purge the CDN cache")).approval_id, timeout=15)
        posted = await client.request("Purge the image cache")
        await card_for(slack, people, posted.approval_id)

    assert wrong is not None and wrong.status == "cancelled" and wrong.by == "bot"
    assert "#elsewhere" in (wrong.feedback or "")
    assert refused is not None and refused.status == "cancelled" and refused.by == "bot"
    assert refused.feedback == "the approval card could not be posted"
    assert [len(cards_of(slack, people, a)) for a in (wrong.approval_id, refused.approval_id)] == [0, 0]
