"""Asking from outside the bots, at the engine: creation under the published policy, the card stream, the client."""

from __future__ import annotations

import asyncio

import pytest

from bot.approvals import ApprovalStore, Outcome, State
from bot.approvals import keys as engine_keys
from bot.approvals.card_stream import CardStream, Claim
from bot.approvals.connection import connect
from bot.approvals.errors import PolicyChanged
from bot.approvals.models import ApprovalKey
from bot.approvals.policy import parse_policy
from bot.approvals.published_policy import PolicyPublisher
from bot.approvals.requests import Asked, Requests
from bot.audit_verify import INTACT, verify_audit
from bot.client import ApprovalClient, KeyReused, RedisUnavailable
from bot.config import ConfigError, load_settings
from tests.conditions import until
from tests.redis_server import free_port

POLICY = r"""
rules:
  - name: no-prod-drops
    tool: run_sql
    pattern: '(?i)\bdrop\b'
    action: deny
    risk: high
  - name: reads
    tool: 'find_*'
    action: auto
  - name: prod-deploys
    pattern: '(?i)\bproduction\b'
    action: ask_two
    self_approval: deny
"""


@pytest.fixture
async def redis(redis_url: str):
    client = connect(redis_url)
    yield client
    await client.aclose()


async def publish(redis, text: str = POLICY, *, self_approval: bool = True) -> PolicyPublisher:
    publisher = PolicyPublisher(redis, parse_policy(text), self_approval=self_approval, ttl_s=600)
    await publisher.publish()
    return publisher


async def entries(redis) -> int:
    return int(await redis.xlen(engine_keys.CARD_REQUESTS))


async def audit_events(redis, approval_id: str) -> list[str]:
    stream = engine_keys.audit_key(engine_keys.bucket(approval_id))
    found = await redis.xrange(stream)
    return [f["event"] for _, f in found if f.get("id") == approval_id]


async def test_the_same_key_twice_is_one_approval_and_one_posting(store: ApprovalStore, redis) -> None:
    await publish(redis)
    cards = CardStream(redis, lease_s=30)
    requests = Requests(store, cards)
    asked = Asked("Rotate the staging keys", "all of them", requester="U1", key="rotate-1")

    first = await requests.create(asked)
    again = await requests.create(asked)

    assert first.id == again.id and first.pending
    await cards.join()
    taken = await cards.take("replica-a", block_s=0.1)
    assert [t.approval_id for t in taken] == [first.id, first.id]  # at least once: both entries delivered
    claims = [await cards.claim(t.approval_id, f"replica-{n}") for n, t in enumerate(taken)]
    assert claims == [Claim.CLAIMED, Claim.BUSY]  # only one replica may post it
    await store.attach_message(first.id, "C1", "1.000001")
    assert await cards.claim(first.id, "replica-c") is Claim.POSTED
    assert await audit_events(redis, first.id) == ["created"]


async def test_a_deny_rule_denies_at_once_with_no_card_request(redis_url: str, redis) -> None:
    await publish(redis)
    async with ApprovalClient(redis_url) as client:
        asked = await client.request(
            "Clean up", requester="U1", tool="run_sql", arguments={"query": "select 1;\nDROP TABLE users"}
        )

    assert asked.decision is not None
    assert asked.decision.status == "denied" and asked.decision.by == "policy:no-prod-drops"
    assert asked.decision.rule == "no-prod-drops" and "no-prod-drops" in (asked.decision.feedback or "")
    assert await entries(redis) == 0
    assert await audit_events(redis, asked.approval_id) == ["created", "cancelled"]
    assert (await verify_audit(redis)).exit_code == INTACT  # both entries of the one script are chained


async def test_an_auto_rule_approves_at_once(redis_url: str, redis) -> None:
    await publish(redis)
    async with ApprovalClient(redis_url) as client:
        decision = await client.ask("Look it up", tool="find_user", arguments={"name": "ada"})

    assert decision.status == "approved" and decision.by == "policy:reads" and decision.at is not None
    assert await entries(redis) == 0


async def test_ask_two_stores_its_terms(store: ApprovalStore, redis) -> None:
    await publish(redis)
    approval = await Requests(store, CardStream(redis)).create(Asked("Deploy to production", requester="U1"))

    assert approval.pending and approval.terms.quorum == 2 and not approval.terms.self_approval
    assert approval.terms.rule == "prod-deploys" and approval.terms.kind == "request"
    assert "needs two different approvers" in approval.prompt
    with pytest.raises(Exception, match="requester may not approve"):
        await store.decide(approval.id, Outcome.APPROVED, "U1")
    counted = await store.decide(approval.id, Outcome.APPROVED, "U2")
    assert counted.pending  # one of two
    assert (await store.decide(approval.id, Outcome.APPROVED, "U3")).state is State.APPROVED
    assert await entries(redis) == 1


async def test_with_no_published_policy_a_person_is_asked_and_not_the_requester(store: ApprovalStore, redis) -> None:
    approval = await Requests(store, CardStream(redis)).create(
        Asked("Read the logs", requester="U1", tool="find_logs", arguments={"day": "today"})
    )

    assert approval.pending and approval.terms.rule == "default" and not approval.terms.self_approval
    assert await entries(redis) == 1


async def test_a_policy_published_meanwhile_is_never_skipped(store: ApprovalStore, redis) -> None:
    old = await publish(redis, "rules: []")
    await publish(redis)  # a bot with stricter rules started since

    with pytest.raises(PolicyChanged):
        await store.create(
            ApprovalKey("ext-stale", 1),
            prompt="Deploy to production",
            requester="U1",
            workflow="external",
            timeout_s=60,
            policy_rev=old.rev,
        )
    assert await store.get("ext-stale.1") is None
    fresh = await Requests(store, CardStream(redis)).create(Asked("Deploy to production", key="k"))
    assert fresh.terms.quorum == 2


async def test_a_key_used_for_something_else_is_refused(store: ApprovalStore, redis) -> None:
    requests = Requests(store, CardStream(redis))
    await requests.create(Asked("Deploy v1", key="deploy"))

    with pytest.raises(KeyReused):
        await requests.create(Asked("Deploy v2", key="deploy"))


async def test_wait_with_a_timeout_leaves_it_pending_then_returns_the_decision(
    redis_url: str, store: ApprovalStore
) -> None:
    async with ApprovalClient(redis_url) as client:
        asked = await client.request("Ship it", requester="ci:nightly", key="ship")
        assert asked.decision is None
        assert await client.wait(asked.approval_id, timeout=0.2) is None
        assert (await store.get(asked.approval_id)).pending  # type: ignore[union-attr]

        waiting = asyncio.create_task(client.wait(asked.approval_id))
        await store.decide(asked.approval_id, Outcome.REVISED, "U2", "smaller, please")
        decision = await asyncio.wait_for(waiting, 5)

    assert decision is not None and decision.status == "revised"
    assert decision.by == "U2" and decision.feedback == "smaller, please" and decision.rule == "default"


async def test_a_dead_replicas_request_is_taken_over(store: ApprovalStore, redis) -> None:
    cards = CardStream(redis, lease_s=0.3)
    await cards.join()
    approval = await Requests(store, cards).create(Asked("Restart the queue", key="restart"))
    [taken] = await cards.take("replica-a", block_s=0.1)
    assert await cards.claim(taken.approval_id, "replica-a") is Claim.CLAIMED

    assert await cards.take_over("replica-b") == []  # not idle long enough yet
    assert await cards.claim(approval.id, "replica-b") is Claim.BUSY
    taken_over: list = []

    async def lapsed() -> bool:
        taken_over.extend(await cards.take_over("replica-b"))
        return bool(taken_over)

    await until(lapsed, timeout=3)
    [again] = taken_over

    assert again.approval_id == approval.id
    assert await cards.claim(approval.id, "replica-b") is Claim.TAKEN_OVER
    await cards.done(again)
    assert await entries(redis) == 0


async def test_nobody_deciding_in_time_comes_back_expired(redis_url: str) -> None:
    async with ApprovalClient(redis_url) as client:
        decision = await asyncio.wait_for(client.ask("Approve the budget", requester="U1", timeout=0.3), 5)

    assert decision.status == "expired" and decision.by is None and decision.at is not None
    assert not decision.approved


async def test_bad_input_is_refused_before_anything_is_written(redis_url: str, redis) -> None:
    async with ApprovalClient(redis_url) as client:
        for bad in (
            {"title": " "},
            {"title": "x", "timeout": 0},
            {"title": "x", "tool": "t", "arguments": {"when": object()}},
            {"title": "x", "arguments": {"a": 1}},
        ):
            with pytest.raises(ValueError):
                await client.request(**bad)

    assert await redis.dbsize() == 0


async def test_replicas_gone_for_a_day_are_forgotten_unless_they_hold_requests(redis, monkeypatch) -> None:
    cards = CardStream(redis)
    await cards.join()
    await cards.request("ext-a.1")
    await cards.take("holder", block_s=0.1)  # holds one request
    await cards.request("ext-b.1")
    [handled] = await cards.take("idle", block_s=0.1)
    await cards.done(handled)  # holds nothing
    before = await redis.xinfo_consumers(engine_keys.CARD_REQUESTS, engine_keys.CARD_POSTERS)
    assert sorted(c["name"] for c in before) == ["holder", "idle"]
    monkeypatch.setattr("bot.approvals.card_stream.FORGET_AFTER_MS", -1)

    await cards.join()  # a replica starting

    consumers = await redis.xinfo_consumers(engine_keys.CARD_REQUESTS, engine_keys.CARD_POSTERS)
    assert [c["name"] for c in consumers] == ["holder"]


def test_card_lease_is_a_positive_number_of_seconds() -> None:
    assert load_settings({"CARD_LEASE": "4"}, require_slack=False).card_lease == 4
    assert load_settings({}, require_slack=False).card_lease == 30
    with pytest.raises(ConfigError, match="CARD_LEASE"):
        load_settings({"CARD_LEASE": "0"}, require_slack=False)


async def test_an_unreachable_redis_is_one_plain_error_without_the_password() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(RedisUnavailable) as raised:
        async with ApprovalClient(url):
            pass

    assert "did not answer" in str(raised.value) and "hunter2" not in str(raised.value)
