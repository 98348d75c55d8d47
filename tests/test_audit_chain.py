"""The audit's hash chains against a real redis-server: ``--verify`` passes an untouched log and names the first
altered, deleted, reordered or cut-off entry; retention trims leave an anchor; seals made with AUDIT_HMAC_KEY catch
a chain recomputed without the key."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator

import fakeredis.aioredis
import pytest

from bot.approvals import ApprovalKey, ApprovalStore, Outcome, StoreSettings, Terms, keys
from bot.approvals.audit_scripts import TRIM
from bot.approvals.chain import SealKey, entry_hash
from bot.audit_verify import BROKEN, INTACT, NO_CHAIN, Verdict, render, verify_audit
from tests.conditions import until
from tests.engine import close_store, open_store, redis_now_ms

KEY = b"k" * 32
RUN = "wf-chain"
TAG = keys.run_bucket(RUN)
Pairs = list[tuple[str, str]]


@pytest.fixture
async def sealing(redis_url: str) -> AsyncIterator[ApprovalStore]:
    store = await open_store(redis_url, StoreSettings(audit_hmac_key=KEY))
    yield store
    await close_store(store)


async def history(store: ApprovalStore) -> None:
    """Eight entries in the bucket of ``RUN`` (three created, counted, approved, a refusal, revised, expired), and
    one in each of two other buckets."""
    asks = [
        await store.create(
            ApprovalKey(RUN, step),
            prompt=f"Step {step}: ship it?\nwith a newline, a : colon and 12:34",
            requester="U0ALICE123",
            workflow="draft",
            timeout_s=60,
            terms=Terms(quorum=2 if step == 1 else 1, self_approval=step != 2, kind="tool", args='{"a":1}'),
        )
        for step in (1, 2, 3)
    ]
    await store.decide(asks[0].id, Outcome.APPROVED, "U0BOB45678")
    await store.decide(asks[0].id, Outcome.APPROVED, "U0CAROL999")
    with pytest.raises(Exception, match="requester"):
        await store.decide(asks[1].id, Outcome.APPROVED, "U0ALICE123")
    await store.decide(asks[1].id, Outcome.REVISED, "U0BOB45678", "shorter")
    await store.wait(asks[2].id, timeout=0.01)
    for other in ("wf-other1", "wf-other2"):
        await store.create(ApprovalKey(other, 1), prompt="x", requester="U0ALICE123", workflow="draft", timeout_s=60)


async def stream(store: ApprovalStore, tag: str = TAG) -> list[tuple[str, Pairs]]:
    raw = await store.redis.execute_command(
        "EVAL", "return redis.call('XRANGE', KEYS[1], '-', '+')", 1, keys.audit_key(tag)
    )
    return [(entry_id, list(zip(flat[::2], flat[1::2], strict=True))) for entry_id, flat in raw]


async def rewrite(store: ApprovalStore, entries: list[tuple[str, Pairs]], tag: str = TAG) -> None:
    """What someone who can write to Redis can do: replace the stream with these entries, ids and all."""
    pipe = store.redis.pipeline(transaction=True)
    pipe.delete(keys.audit_key(tag))
    for entry_id, pairs in entries:
        pipe.xadd(keys.audit_key(tag), dict(pairs), id=entry_id)
    await pipe.execute()


def altered(pairs: Pairs, name: str, value: str) -> Pairs:
    return [(n, value if n == name else v) for n, v in pairs]


def rehashed(entries: list[tuple[str, Pairs]], prev: str = "") -> list[tuple[str, Pairs]]:
    """The entries chained again from ``prev``, as anyone can without the key."""
    out = []
    for entry_id, pairs in entries:
        body = [(n, prev if n == "prev" else v) for n, v in pairs[:-1]]
        prev = entry_hash([(n.encode(), v.encode()) for n, v in body])
        out.append((entry_id, [*body, ("hash", prev)]))
    return out


def problem(verdict: Verdict, *, alone: bool = True) -> tuple[str, str]:
    """The problem of ``TAG``'s chain: with ``alone``, the only one."""
    assert verdict.exit_code == BROKEN
    broken = {b.bucket: b.problem for b in verdict.buckets if b.problem}
    assert list(broken) == [TAG] if alone else TAG in broken, render(verdict)
    found = broken[TAG]
    assert found is not None
    return found.entry_id, found.what


async def test_an_untouched_log_is_intact_and_every_entry_is_chained(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    assert [dict(pairs)["event"] for _, pairs in entries] == [
        "created",
        "created",
        "created",
        "approval_counted",
        "approved",
        "self_approval_refused",
        "revised",
        "expired",
    ]
    assert [n for n, _ in entries[0][1]][-2:] == ["prev", "hash"] and dict(entries[0][1])["prev"] == ""
    assert all(dict(b)["prev"] == dict(a)["hash"] for (_, a), (_, b) in itertools.pairwise(entries))
    assert await store.redis.hgetall(keys.audit_chain_key(TAG)) == {
        "head_id": entries[-1][0],
        "head_hash": dict(entries[-1][1])["hash"],
    }

    verdict = await verify_audit(store.redis)
    assert verdict.exit_code == INTACT, render(verdict)
    assert sum(b.entries for b in verdict.buckets) == 10
    assert "cannot show that the chain was not recomputed" in render(verdict)


async def test_an_altered_entry_is_named(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    entry_id, pairs = entries[4]
    entries[4] = (entry_id, altered(pairs, "deciders", "U0MALLORY1"))
    await rewrite(store, entries)

    assert problem(await verify_audit(store.redis)) == (entry_id, "altered")


async def test_a_deleted_entry_is_named_by_the_one_after_it(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    await store.redis.xdel(keys.audit_key(TAG), entries[3][0])

    verdict = await verify_audit(store.redis)
    assert problem(verdict) == (entries[4][0], "deleted")
    assert f"between {entries[2][0]} and it" in render(verdict)


async def test_deleting_the_first_entry_without_a_trim_is_a_deletion(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    await store.redis.xdel(keys.audit_key(TAG), entries[0][0])

    assert problem(await verify_audit(store.redis)) == (entries[1][0], "deleted")


async def test_a_reordered_pair_is_named(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    (first_id, first), (second_id, second) = entries[2], entries[3]
    entries[2], entries[3] = (first_id, second), (second_id, first)  # same ids, contents swapped
    await rewrite(store, entries)

    assert problem(await verify_audit(store.redis)) == (first_id, "reordered")


async def test_a_cut_off_tail_is_named_by_the_head_recorded_outside_the_stream(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    await store.redis.xdel(keys.audit_key(TAG), entries[-1][0], entries[-2][0])

    verdict = await verify_audit(store.redis)
    assert problem(verdict) == (entries[-1][0], "tail cut")
    assert f"after {entries[-3][0]} up to the head" in render(verdict)


async def test_an_entry_appended_outside_the_engine_is_named(store: ApprovalStore) -> None:
    await history(store)
    entries = await stream(store)
    forged = (entries[-1][0].split("-")[0] + "-99", rehashed([entries[-1]], dict(entries[-1][1])["hash"])[0][1])
    await rewrite(store, [*entries, forged])

    assert problem(await verify_audit(store.redis)) == (forged[0], "inserted")


async def test_a_retention_trim_leaves_an_anchor_and_the_log_stays_intact(redis_url: str) -> None:
    store = await open_store(redis_url, StoreSettings(audit_retention_s=3600))
    try:
        await history(store)
        entries = await stream(store)
        day = 24 * 3600 * 1000
        aged = [(f"{int(i.split('-')[0]) - day}-{n}", pairs) for n, (i, pairs) in enumerate(entries[:3])]
        await rewrite(store, [*aged, *entries[3:]])  # ids are not hashed: the first three now look a day old

        assert await store.seal_audit() == 0
        assert [i for i, _ in await stream(store)] == [i for i, _ in entries[3:]]
        chain = await store.redis.hgetall(keys.audit_chain_key(TAG))
        assert (chain["anchor_id"], chain["anchor_hash"]) == (aged[2][0], dict(aged[2][1])["hash"])
        assert (await verify_audit(store.redis)).exit_code == INTACT

        await store.redis.xdel(keys.audit_key(TAG), entries[3][0])  # a deletion after the trim is still one
        assert problem(await verify_audit(store.redis)) == (entries[4][0], "deleted")
    finally:
        await close_store(store)


async def test_maintenance_trims_past_audit_retention(redis_url: str) -> None:
    store = await open_store(redis_url, StoreSettings(audit_retention_s=0.001, sweep_interval_s=0.02))
    try:
        await history(store)
        store._maintenance.start()
        await until(lambda: _empty(store), what="the audit trimmed")
        assert (await verify_audit(store.redis)).exit_code == INTACT  # everything trimmed: the head is the anchor
    finally:
        await close_store(store)


async def _empty(store: ApprovalStore) -> bool:
    return await store.redis.xlen(keys.audit_key(TAG)) == 0


async def test_a_sealed_log_verifies_with_the_key(sealing: ApprovalStore) -> None:
    await history(sealing)
    assert await sealing.seal_audit() == 3  # three buckets had entries
    assert await sealing.seal_audit() == 0  # nothing new

    verdict = await verify_audit(sealing.redis, SealKey(KEY))
    assert verdict.exit_code == INTACT, render(verdict)
    assert "sealed with AUDIT_HMAC_KEY" in render(verdict)
    entries = await stream(sealing)
    assert next(b for b in verdict.buckets if b.bucket == TAG).sealed_through == entries[-1][0]
    assert "mac" in await sealing.redis.hgetall(keys.audit_seal_key(TAG))
    assert KEY.decode() not in repr(sealing.settings) and KEY.decode() not in repr(SealKey(KEY))


async def test_a_chain_recomputed_without_the_key_fails_on_the_seal(
    sealing: ApprovalStore, caplog: pytest.LogCaptureFixture
) -> None:
    await history(sealing)
    await sealing.seal_audit()
    entries = await stream(sealing)
    entries[1] = (entries[1][0], altered(entries[1][1], "prompt", "Step 2: delete everything?"))
    forged = entries[:1] + rehashed(entries[1:], dict(entries[0][1])["hash"])
    await rewrite(sealing, forged)
    await sealing.redis.hset(
        keys.audit_chain_key(TAG), mapping={"head_id": forged[-1][0], "head_hash": forged[-1][1][-1][1]}
    )

    assert (await verify_audit(sealing.redis)).exit_code == INTACT  # a plain chain cannot tell
    verdict = await verify_audit(sealing.redis, SealKey(KEY))
    assert problem(verdict) == (entries[-1][0], "altered")
    assert "the chain recomputed" in render(verdict)

    with caplog.at_level(logging.ERROR, "bot.approvals.sealing"):
        assert await sealing.seal_audit() == 0  # maintenance never seals a chain that does not extend its seal
    assert "not sealing audit bucket" in caplog.text


async def test_another_key_or_a_forged_seal_is_a_bad_seal(sealing: ApprovalStore) -> None:
    await history(sealing)
    await sealing.seal_audit()
    assert problem(await verify_audit(sealing.redis, SealKey(b"x" * 32)), alone=False)[1] == "bad seal"


async def test_a_removed_seal_made_again_does_not_prove_what_came_before(
    sealing: ApprovalStore, redis_url: str
) -> None:
    await history(sealing)
    await sealing.seal_audit()
    await sealing.redis.delete(keys.audit_seal_key(TAG))
    assert await sealing.seal_audit() == 0  # this replica saw the seal: it will not start another
    entries = await stream(sealing)
    written = max(int(entry_id.split("-")[0]) for entry_id, _ in entries)
    await until(lambda: _past(sealing, written + 600), what="Redis's clock past the window")

    fresh = await open_store(redis_url, StoreSettings(audit_hmac_key=KEY))
    try:
        assert await fresh.seal_audit() == 1  # a replica that never saw it does: this chain's sealing begins now
    finally:
        await close_store(fresh)
    verdict = await verify_audit(sealing.redis, SealKey(KEY), window_s=0.3)
    assert problem(verdict) == (entries[0][0], "not sealed")  # the other chains were sealed in time
    assert "before this chain's sealing began" in render(verdict)
    since = int((await sealing.redis.hgetall(keys.audit_seal_key(TAG)))["since_ms"])
    assert (await verify_audit(sealing.redis, SealKey(KEY), since_ms=since, window_s=0.3)).exit_code == INTACT


async def _past(store: ApprovalStore, ms: int) -> bool:
    return await redis_now_ms(store) > ms


async def test_entries_left_unsealed_past_the_window_fail(sealing: ApprovalStore) -> None:
    await history(sealing)
    young = await verify_audit(sealing.redis, SealKey(KEY))
    assert young.exit_code == INTACT and "not yet sealed" in render(young)

    entries = await stream(sealing)
    later = int(entries[0][0].split("-")[0]) + 61_000
    verdict = await verify_audit(sealing.redis, SealKey(KEY), now_ms=later)
    assert problem(verdict, alone=False) == (entries[0][0], "not sealed")


async def test_a_sealed_trim_keeps_the_seal_and_the_anchor_together(redis_url: str) -> None:
    store = await open_store(redis_url, StoreSettings(audit_retention_s=3600, audit_hmac_key=KEY))
    try:
        await history(store)
        await store.seal_audit()
        entries = await stream(store)
        day = 24 * 3600 * 1000
        aged = [(f"{int(i.split('-')[0]) - day}-{n}", pairs) for n, (i, pairs) in enumerate(entries[:3])]
        await rewrite(store, [*aged, *entries[3:]])

        assert await store.seal_audit() == 1
        assert len(await stream(store)) == len(entries) - 3
        assert (await verify_audit(store.redis, SealKey(KEY))).exit_code == INTACT
        # a replica without the key does not trim a sealed bucket (the seal's anchor would not be the chain's)
        assert await store.redis.eval(TRIM, 3, *keys.audit_keys(TAG), 1, 10) == -1
    finally:
        await close_store(store)


async def test_fakeredis_keeps_no_chain_and_verify_says_so() -> None:
    redis = fakeredis.aioredis.FakeRedis(decode_responses=True)
    store = ApprovalStore(redis, StoreSettings(audit_hmac_key=KEY))
    await store.start(maintenance=False)
    try:
        await history(store)
        assert await store.seal_audit() == 0
        verdict = await verify_audit(redis, SealKey(KEY))
        assert verdict.exit_code == NO_CHAIN == 3
        assert "keeps no audit chain" in render(verdict)
    finally:
        await store.aclose()
        await redis.aclose()
