"""Reminders on a real 3-master Redis Cluster: every script stays in its card's slot, and across the masters each
due entry is still claimed by exactly one of two clients."""

from __future__ import annotations

import asyncio

from redis.crc import key_slot

from bot.approvals import Outcome, keys
from bot.approvals.audit import read_audit
from bot.approvals.reminders import Claim, Reminders
from bot.audit_verify import INTACT, verify_audit
from tests.engine import ask, close_store
from tests.redis_topology import ClusterSetup, cluster, cluster_setup
from tests.test_store_topology import on_cluster, open_on

__all__ = ["cluster", "cluster_setup"]  # fixtures

CARDS = 12


async def test_cluster_each_card_is_claimed_once_across_the_masters_and_audited(cluster: ClusterSetup) -> None:
    one, two = await open_on(on_cluster(cluster)), await open_on(on_cluster(cluster))
    try:
        first, second = (Reminders(s.redis, remind_after_s=0.2) for s in (one, two))
        ids = []
        for n in range(CARDS):
            approval = await ask(one, f"wf-rem{n}")
            await one.attach_message(approval.id, "C0APPROVAL", f"1714000000.{n:06d}")
            assert await first.schedule([approval.id]) == 1
            ids.append(approval.id)
        slots = {cluster.slot_owner(key_slot(keys.reminders_key(keys.bucket(i)).encode())) for i in ids}
        assert slots == set(cluster.ports)  # the entries really spread over the three masters
        decided = ids.pop()
        two.on_transition(second.cancel)
        await two.decide(decided, Outcome.CANCELLED, "U0BOB45678")

        got: list[Claim] = []

        async def poll(reminders: Reminders) -> None:
            while len(got) < len(ids):
                got.extend(await reminders.claim_due())
                await asyncio.sleep(0.01)

        async with asyncio.timeout(10):
            await asyncio.gather(poll(first), poll(second))
        assert sorted(c.first.id for c in got) == sorted(ids)
        assert all([await (first if n % 2 else second).done(c, sent=True) for n, c in enumerate(got)])
        assert await first.entries() == []
        reminded = sorted(e.approval_id for e in await read_audit(one.redis) if e.event == "reminded")
        assert reminded == sorted(ids)
        assert (await verify_audit(one.redis)).exit_code == INTACT
    finally:
        await close_store(one)
        await close_store(two)
