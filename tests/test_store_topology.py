"""The approval engine on a real Redis Sentinel setup and a real 3-node Redis Cluster (``redis_topology.py``)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException

from bot.approvals import ApprovalStore, Outcome, State, StoreSettings, claim_delivery, keys
from bot.approvals.audit import read_audit
from bot.approvals.chain import SealKey
from bot.approvals.connection import TRANSIENT
from bot.approvals.reads import RecordReader
from bot.approvals.topology import Topology, open_client
from bot.audit_verify import render, verify_audit
from bot.config import load_settings
from bot.connections import open_redis
from tests.conditions import until, waiting
from tests.engine import ask, close_store
from tests.redis_topology import (
    ClusterSetup,
    SentinelSetup,
    cluster,
    cluster_setup,
    own_cluster,
    sentinel,
    sentinel_setup,
)

__all__ = ["cluster", "cluster_setup", "own_cluster", "sentinel", "sentinel_setup"]  # fixtures

CHANNEL, TS = "C0APPROVAL", "1714000000.000100"
SEAL_KEY = b"s" * 32


def on_sentinel(setup: SentinelSetup) -> Topology:
    return Topology(sentinels=setup.sentinels, sentinel_service="mymaster")


def on_cluster(setup: ClusterSetup) -> Topology:
    return Topology(cluster_nodes=setup.nodes)


async def open_on(
    topology: Topology, settings: StoreSettings | None = None, *, maintenance: bool = False
) -> ApprovalStore:
    store = ApprovalStore(open_client(topology), settings)
    await store.start(maintenance=maintenance)
    return store


async def test_sentinel_a_decision_through_one_client_wakes_a_waiter_on_another(sentinel: SentinelSetup) -> None:
    waiter_side, clicker_side = await open_on(on_sentinel(sentinel)), await open_on(on_sentinel(sentinel))
    approval = await ask(waiter_side)
    waiter = asyncio.create_task(waiter_side.wait(approval.id))
    await waiting(waiter_side, 1)

    await clicker_side.decide(approval.id, Outcome.REVISED, "U0BOB45678", "shorter please")

    decided = await asyncio.wait_for(waiter, 5)
    assert (decided.state, decided.decider, decided.feedback) == (State.REVISED, "U0BOB45678", "shorter please")
    await close_store(waiter_side)
    await close_store(clicker_side)


async def test_sentinel_failover_during_a_wait_then_a_decision_still_resolves_it(sentinel: SentinelSetup) -> None:
    waiter_side, clicker_side = await open_on(on_sentinel(sentinel)), await open_on(on_sentinel(sentinel))
    approval = await ask(waiter_side)
    assert await claim_delivery(clicker_side.redis, "Ev0BEFORE", 60)  # the clicker's pool is on the old master
    waiter = asyncio.create_task(waiter_side.wait(approval.id))
    await waiting(waiter_side, 1)
    old_master = sentinel.master_port()

    new_master = sentinel.failover()

    assert new_master != old_master
    assert not waiter.done()
    await clicker_side.decide(approval.id, Outcome.APPROVED, "U0BOB45678")  # old connections find a replica
    decided = await asyncio.wait_for(waiter, 10)
    assert (decided.state, decided.decider) == (State.APPROVED, "U0BOB45678")
    with sentinel_client(new_master) as master:
        assert master.hget(keys.record_key(approval.id), "state") == "approved"  # written on the new master
    await close_store(waiter_side)
    await close_store(clicker_side)


def sentinel_client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True)


async def test_open_redis_reaches_the_sentinel_master_and_the_cluster(
    sentinel: SentinelSetup, cluster: ClusterSetup
) -> None:
    sentinels = ",".join(f"{host}:{port}" for host, port in sentinel.sentinels)
    nodes = ",".join(f"{host}:{port}" for host, port in cluster.nodes)
    for environ in (
        {"REDIS_SENTINELS": sentinels, "REDIS_SENTINEL_SERVICE": "mymaster"},
        {"REDIS_CLUSTER_NODES": nodes},
    ):
        client = await open_redis(load_settings(environ, require_slack=False))
        assert await client.set("appr:seen:probe", "1", px=60_000)
        assert await client.get("appr:seen:probe") == "1"
        await client.aclose()


async def test_cluster_a_decision_through_one_client_wakes_a_waiter_on_another(cluster: ClusterSetup) -> None:
    waiter_side, clicker_side = await open_on(on_cluster(cluster)), await open_on(on_cluster(cluster))
    approval = await ask(waiter_side)
    waiter = asyncio.create_task(waiter_side.wait(approval.id))
    await waiting(waiter_side, 1)

    await clicker_side.decide(approval.id, Outcome.CANCELLED, "U0BOB45678", "not now")

    decided = await asyncio.wait_for(waiter, 5)
    assert (decided.state, decided.decider, decided.feedback) == (State.CANCELLED, "U0BOB45678", "not now")
    await close_store(waiter_side)
    await close_store(clicker_side)


async def test_cluster_fifty_approvals_over_every_node_all_resume(cluster: ClusterSetup) -> None:
    waiter_side, clicker_side = await open_on(on_cluster(cluster)), await open_on(on_cluster(cluster))
    approvals = [await ask(waiter_side, workflow_id=f"run-{n}") for n in range(50)]
    owners = {cluster.slot_owner(key_slot(keys.record_key(a.id).encode())) for a in approvals}
    assert owners == set(cluster.ports)  # the buckets really spread over the three masters
    waiters = [asyncio.create_task(waiter_side.wait(a.id)) for a in approvals]
    await waiting(waiter_side, 50)

    await asyncio.gather(*(clicker_side.decide(a.id, Outcome.APPROVED, f"U{n:09d}") for n, a in enumerate(approvals)))

    decided = await asyncio.wait_for(asyncio.gather(*waiters), 10)
    assert [(d.id, d.state, d.decider) for d in decided] == [
        (a.id, State.APPROVED, f"U{n:09d}") for n, a in enumerate(approvals)
    ]
    audit = await read_audit(clicker_side.redis)  # one stream per bucket, read from every node
    assert sorted(e.approval_id for e in audit if e.event == "approved") == sorted(a.id for a in approvals)
    await close_store(waiter_side)
    await close_store(clicker_side)


async def test_cluster_expiry_cards_and_reconciliation(cluster: ClusterSetup) -> None:
    fast = StoreSettings(sweep_interval_s=0.1, report_grace_s=0.3, report_lease_s=0.3)
    store = await open_on(on_cluster(cluster), fast)
    orphan = await ask(store, workflow_id="orphan", timeout_s=0.3)
    shown = await ask(store, workflow_id="shown")
    unshown = await ask(store, workflow_id="unshown")
    for n, approval in enumerate((shown, unshown)):
        await store.attach_message(approval.id, CHANNEL, f"{TS}{n}")
    assert (await store.find_by_message(CHANNEL, f"{TS}0")).id == shown.id  # type: ignore[union-attr]

    await store.decide(shown.id, Outcome.APPROVED, "U0BOB45678")
    await store.mark_shown(shown.id, State.APPROVED)
    await store.decide(unshown.id, Outcome.CANCELLED, "U0BOB45678")  # its card is never updated
    expired: list[str] = []
    await until(lambda: _expire(store, expired), timeout=5)  # nobody waits for it: maintenance expires it
    assert expired == [orphan.id]
    assert (await store.get(orphan.id)).state is State.EXPIRED  # type: ignore[union-attr]
    reported: list[str] = []
    await until(lambda: _report(store, reported), timeout=5)
    assert reported == [unshown.id]
    await store.mark_shown(unshown.id, State.CANCELLED)
    assert await store.reconciler.unshown() == []
    await close_store(store)


async def _expire(store: ApprovalStore, into: list[str]) -> bool:
    into.extend(a.id for a in await store.expire_due())
    return bool(into)


async def _report(store: ApprovalStore, into: list[str]) -> bool:
    into.extend(a.id for a in await store.report_unshown())
    return bool(into)


async def test_cluster_claim_delivery_once_across_clients(cluster: ClusterSetup) -> None:
    first, second = open_client(on_cluster(cluster)), open_client(on_cluster(cluster))
    for client in (first, second):  # as open_redis does: redis-py 8.1 fails concurrent first calls of a cold
        await client.ping()  # cluster client (a connection's writer is gone mid-handshake)
    claims = await asyncio.gather(*(claim_delivery(r, f"Ev0{n:04d}", 60) for n in range(20) for r in (first, second)))
    assert [claims[i] or claims[i + 1] for i in range(0, 40, 2)] == [True] * 20
    assert sum(claims) == 20  # each delivery claimed by exactly one of the two
    assert await claim_delivery(first, "Ev0REPLAY", 60, nonce="n1")
    assert await claim_delivery(first, "Ev0REPLAY", 60, nonce="n1")  # our own retry still holds it
    assert not await claim_delivery(second, "Ev0REPLAY", 60)
    await first.aclose()
    await second.aclose()


async def test_cluster_each_bucket_chains_and_seals_its_audit_in_its_slot(cluster: ClusterSetup) -> None:
    store = await open_on(on_cluster(cluster), StoreSettings(audit_hmac_key=SEAL_KEY))
    try:
        for n in range(12):
            approval = await ask(store, f"wf-slot{n}")
            await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
        buckets = {keys.bucket(f"wf-slot{n}") for n in range(12)}
        assert await store.seal_audit() == len(buckets)
        verdict = await verify_audit(store.redis, SealKey(SEAL_KEY))
        assert verdict.exit_code == 0, render(verdict)
        assert sum(b.entries for b in verdict.buckets) == 24
    finally:
        await close_store(store)


async def test_a_read_whose_pipeline_cannot_be_built_fails_its_readers_instead_of_hanging(
    cluster: ClusterSetup,
) -> None:
    plain = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster.nodes], decode_responses=True)
    await plain.ping()
    reader = RecordReader(plain)  # type: ignore[arg-type]  # redis-py's own cluster pipeline refuses TIME
    try:
        with pytest.raises(RedisClusterException):
            await asyncio.wait_for(reader.read("wf-nope.1"), 5)
    finally:
        await reader.aclose()
        await plain.aclose()


def _owner_of(cluster: ClusterSetup, approval_id: str) -> int:
    return cluster.slot_owner(key_slot(keys.record_key(approval_id).encode()))


def _shard_channels(cluster: ClusterSetup, port: int) -> set[str]:
    with cluster.client(port) as node:
        return set(node.execute_command("PUBSUB", "SHARDCHANNELS"))  # type: ignore[no-untyped-call]


async def test_cluster_decisions_go_out_on_shard_channels_each_heard_on_its_own_master(cluster: ClusterSetup) -> None:
    for tag in keys.all_buckets():  # the script may SPUBLISH only in the slot of the keys it declares
        assert key_slot(keys.decided_channel(tag).encode()) == key_slot(keys.pending_key(tag).encode())
    waiter_side, clicker_side = await open_on(on_cluster(cluster)), await open_on(on_cluster(cluster))

    heard = {port: _shard_channels(cluster, port) for port in cluster.ports}
    assert set().union(*heard.values()) == set(keys.decided_channels())
    for port, channels in heard.items():
        assert channels == {c for c in keys.decided_channels() if cluster.slot_owner(key_slot(c.encode())) == port}
        with cluster.client(port) as node:
            assert node.pubsub_numsub(keys.DECIDED_CHANNEL) == [(keys.DECIDED_CHANNEL, 0)]  # no classic channel
    assert len(waiter_side.subscriber.listeners) == 3  # one pub/sub connection per master
    approvals = [await ask(waiter_side, workflow_id=f"shard-{n}") for n in range(12)]
    waiters = [asyncio.create_task(waiter_side.wait(a.id)) for a in approvals]
    await waiting(waiter_side, len(approvals))

    for approval in approvals:
        await clicker_side.decide(approval.id, Outcome.APPROVED, "U0BOB45678")

    decided = await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert [d.decider for d in decided] == ["U0BOB45678"] * len(approvals)
    assert all(d.decided_ms > 0 for d in decided)  # woken by the message's fields, not a re-read
    await close_store(waiter_side)
    await close_store(clicker_side)


async def test_cluster_decisions_made_while_shard_connections_were_dropped_are_not_lost(cluster: ClusterSetup) -> None:
    waiter_side, clicker_side = await open_on(on_cluster(cluster)), await open_on(on_cluster(cluster))
    approvals = [await ask(waiter_side, workflow_id=f"drop-{n}") for n in range(30)]
    assert {_owner_of(cluster, a.id) for a in approvals} == set(cluster.ports)
    waiters = [asyncio.create_task(waiter_side.wait(a.id)) for a in approvals]
    await waiting(waiter_side, len(approvals))

    killed = 0
    for port in cluster.ports:
        with cluster.client(port) as node:
            killed += node.client_kill_filter(_type="pubsub")
    for approval in approvals:
        await clicker_side.decide(approval.id, Outcome.APPROVED, "U0BOB45678")

    decided = await asyncio.wait_for(asyncio.gather(*waiters), 10)
    assert killed == 6  # the three shard connections of each store
    assert [d.state for d in decided] == [State.APPROVED] * len(approvals)
    await close_store(waiter_side)
    await close_store(clicker_side)


async def _fail_over(own_cluster: ClusterSetup, how: str) -> None:
    """Waits on approvals of one master's slots survive that master's failover, however it happens."""
    victim = own_cluster.ports[0]
    replica = own_cluster.add_replica(victim)
    waiter_side, clicker_side = await open_on(on_cluster(own_cluster)), await open_on(on_cluster(own_cluster))
    approvals = [await ask(waiter_side, workflow_id=f"fo-{n}") for n in range(40)]
    on_victim = [a for a in approvals if _owner_of(own_cluster, a.id) == victim]
    assert len(on_victim) >= 2
    first, later = on_victim[: len(on_victim) // 2], on_victim[len(on_victim) // 2 :]
    waiters = {a.id: asyncio.create_task(waiter_side.wait(a.id)) for a in approvals}
    await waiting(waiter_side, len(approvals))

    if how == "kill":
        own_cluster.kill(victim)  # the replica takes over after the node timeout (2 s)
    else:
        with own_cluster.client(replica) as node:
            node.execute_command("CLUSTER", "FAILOVER")  # type: ignore[no-untyped-call]
    await asyncio.to_thread(own_cluster.await_master, replica)
    assert not any(waiters[a.id].done() for a in approvals)
    for approval in first:  # the clicker's client may not know the new master yet: retried as Slack clicks are
        await until(lambda i=approval.id: _decided(clicker_side, i), timeout=15)  # type: ignore[misc]

    decided = await asyncio.wait_for(asyncio.gather(*(waiters[a.id] for a in first)), 15)
    assert [d.state for d in decided] == [State.APPROVED] * len(first)
    subscriber = waiter_side.subscriber  # subscribed again where the moved slots are served
    await until(lambda: all(listener.healthy for listener in subscriber.listeners), timeout=15)
    if how == "kill":
        assert f"127.0.0.1:{replica}" in subscriber.owners() and f"127.0.0.1:{victim}" not in subscriber.owners()
    # Decisions made now are heard as they are made: nothing else (no sweep runs here) would wake them.
    for approval in later:
        await until(lambda i=approval.id: _decided(clicker_side, i), timeout=15)  # type: ignore[misc]
    rest = [a for a in approvals if a not in on_victim]
    await asyncio.gather(*(clicker_side.decide(a.id, Outcome.CANCELLED, "U0BOB45678") for a in rest))
    woken = await asyncio.wait_for(asyncio.gather(*(waiters[a.id] for a in [*later, *rest])), 5)
    assert [d.state for d in woken] == [State.APPROVED] * len(later) + [State.CANCELLED] * len(rest)
    await close_store(waiter_side)
    await close_store(clicker_side)


async def _decided(store: ApprovalStore, approval_id: str) -> bool:
    try:
        await store.decide(approval_id, Outcome.APPROVED, "U0BOB45678", nonce=f"click-{approval_id}")
    except TRANSIENT:
        return False
    return True


async def test_cluster_a_killed_master_replaced_by_its_replica_still_wakes_its_waiters(
    own_cluster: ClusterSetup,
) -> None:
    await _fail_over(own_cluster, "kill")


async def test_cluster_a_manual_failover_still_wakes_the_waiters_of_the_moved_slots(own_cluster: ClusterSetup) -> None:
    await _fail_over(own_cluster, "manual")
