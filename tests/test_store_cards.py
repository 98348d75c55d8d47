"""The card reflects every transition: decisions whose card was not updated are re-reported by any replica."""

from __future__ import annotations

import asyncio
import time

from bot.approvals import Approval, ApprovalStore, Outcome, State, StoreSettings
from tests.conditions import until
from tests.engine import ask, close_store, open_store

GRACE_S = 0.5
ROUND_S = 0.1
FAST = StoreSettings(sweep_interval_s=ROUND_S, report_grace_s=GRACE_S, report_lease_s=0.3)
CHANNEL, TS = "C0APPROVAL", "1714000000.000100"


async def all_shown(store: ApprovalStore) -> bool:
    return await store.reconciler.unshown() == []


class Card:
    """What a Slack-side transition listener does: update the card, then ``mark_shown`` (unless told to fail)."""

    def __init__(self, failures: int = 0) -> None:
        self.updates: list[tuple[float, Approval]] = []
        self.failures = failures

    async def show(self, store_: object, approval: Approval) -> None:
        if not approval.ts:
            return  # no card to update yet (the prompter does the same)
        self.updates.append((time.monotonic(), approval))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("chat.update failed")
        await store_.mark_shown(approval.id, approval.state)  # type: ignore[attr-defined]


async def test_a_decision_whose_process_died_before_updating_the_card_is_reported_by_another(redis_url: str) -> None:
    dead = await open_store(redis_url, FAST)  # no listener: it dies before its chat.update
    approval = await ask(dead)
    await dead.attach_message(approval.id, CHANNEL, TS)
    await dead.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    decided_at = time.monotonic()
    await close_store(dead)

    other = await open_store(redis_url, FAST, maintenance=True)
    card = Card()
    other.on_transition(lambda a: card.show(other, a))
    await until(lambda: len(card.updates) == 1, timeout=GRACE_S + 2 * ROUND_S + 2)

    at, reported = card.updates[0]
    assert (reported.id, reported.state, reported.decider) == (approval.id, State.APPROVED, "U0BOB45678")
    assert (reported.channel, reported.ts) == (CHANNEL, TS)
    assert at - decided_at >= GRACE_S * 0.9  # the deciding process had its grace period first
    await until(lambda: all_shown(other))  # the card shows it: never reported again
    assert (await other.get(approval.id)).shown == "approved"  # type: ignore[union-attr]
    await close_store(other)


async def test_the_deciding_process_that_shows_its_card_is_not_reported_again(redis_url: str) -> None:
    live = await open_store(redis_url, FAST, maintenance=True)
    card = Card()
    live.on_transition(lambda a: card.show(live, a))
    approval = await ask(live)
    await live.attach_message(approval.id, CHANNEL, TS)

    await live.decide(approval.id, Outcome.CANCELLED, "U0BOB45678")
    await asyncio.sleep(GRACE_S + 3 * ROUND_S)  # long enough for a wrong re-report to show up: the subject

    assert [a.state for _, a in card.updates] == [State.CANCELLED]
    assert await live.reconciler.unshown() == []
    await close_store(live)


async def test_a_failed_card_update_is_tried_again_after_the_lease(redis_url: str) -> None:
    store = await open_store(redis_url, FAST, maintenance=True)
    card = Card(failures=2)  # the deciding process's update and the first re-report fail
    store.on_transition(lambda a: card.show(store, a))
    approval = await ask(store)
    await store.attach_message(approval.id, CHANNEL, TS)

    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    await until(lambda: len(card.updates) == 3, timeout=GRACE_S + 0.3 + 0.6 + 5 * ROUND_S + 2)

    times = [at for at, _ in card.updates]
    assert times[2] - times[1] >= 0.3 * 0.9  # the replica held its claim for a lease before trying again
    await until(lambda: all_shown(store))
    await close_store(store)


async def test_one_replica_at_a_time_claims_a_due_report(redis_url: str) -> None:
    dead = await open_store(redis_url, FAST)
    approval = await ask(dead)
    await dead.attach_message(approval.id, CHANNEL, TS)
    await dead.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    replicas = [await open_store(redis_url, FAST) for _ in range(3)]
    await asyncio.sleep(GRACE_S)  # until the entry is due: the grace period is the subject

    claims = await asyncio.gather(*(r.reconciler.claim_due() for r in replicas for _ in range(3)))

    assert sorted(len(c) for c in claims) == [0] * 8 + [1]
    for store in [dead, *replicas]:
        await close_store(store)


async def test_a_card_attached_after_the_decision_is_reported_so_it_loses_its_buttons(redis_url: str) -> None:
    store = await open_store(redis_url, FAST, maintenance=True)
    card = Card()
    store.on_transition(lambda a: card.show(store, a))
    approval = await ask(store)
    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")  # clicked before the card was recorded
    assert card.updates == []

    await store.attach_message(approval.id, CHANNEL, TS)
    await store.attach_message(approval.id, CHANNEL, TS)  # a retried attach changes nothing

    await until(lambda: any(a.ts == TS for _, a in card.updates), timeout=GRACE_S + 2 * ROUND_S + 2)
    assert [a.state for _, a in card.updates if a.ts == TS] == [State.APPROVED]
    assert (await store.find_by_message(CHANNEL, TS)).id == approval.id  # type: ignore[union-attr]
    await close_store(store)


async def test_attach_retries_while_redis_is_down_until_it_lands(make_redis_server) -> None:  # type: ignore[no-untyped-def]
    server = make_redis_server(appendonly=True)
    store = await open_store(server.url, FAST, socket_timeout_s=0.5)
    approval = await ask(store)

    await asyncio.to_thread(server.stop)
    attaching = asyncio.create_task(store.attach_message(approval.id, CHANNEL, TS, retry_for_s=30))
    await asyncio.sleep(1)  # an outage of a noticeable length is the subject
    assert not attaching.done()
    await asyncio.to_thread(server.start)
    await asyncio.wait_for(attaching, 10)

    found = await store.find_by_message(CHANNEL, TS)
    assert found is not None and (found.id, found.channel, found.ts, found.shown) == (
        approval.id,
        CHANNEL,
        TS,
        "pending",
    )
    await close_store(store)
