"""The audit step of every maintenance round: trim past retention and, with ``AUDIT_HMAC_KEY``, seal each chain.

Without the key a replica trims (``audit_scripts.TRIM``: anchored, at most ``MAX_CUT`` entries per bucket a round)
and seals nothing. With it, a replica first checks what was appended since the bucket's seal (the seal's MAC, then
every new entry's hash and link, at most ``MAX_SEAL`` a round), and only then trims and seals in one script
(``SEAL``): a chain that does not extend the sealed one is never sealed, only logged, and its bucket is no longer
trimmed, so the evidence stays. Every replica does this; two sealing at once is harmless (``SEAL`` compares and
sets). A seal never goes back: a replica that saw a seal refuses to seal over an older one, or over none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.client import NEVER_DECODE

from bot.approvals import audit_scripts, keys
from bot.approvals.chain import ChainEntry, Seal, SealKey, id_key, id_ms, walk
from bot.approvals.connection import EngineScript
from bot.approvals.models import as_text
from bot.approvals.settings import StoreSettings

log = logging.getLogger(__name__)

MAX_CUT = 1000
"""At most this many entries trimmed per bucket and round (an exact trim is one blocking command)."""
MAX_SEAL = 5000
"""At most this many new entries checked per bucket and round; a longer backlog is sealed over several rounds."""
PAGE = 500


@dataclass(frozen=True, slots=True)
class BucketView:
    """One consistent read of a bucket (``audit_scripts.READ``): its chain record, its seal and a page of entries."""

    chain: dict[str, str]
    seal: dict[str, str]
    entries: list[ChainEntry]


async def read_view(redis: aioredis.Redis, tag: str, start: str, count: int) -> BucketView:
    """The bucket's chain record, seal, and up to ``count`` entries from ``start`` (``-``, an id, or ``(`` and an
    id to start after it), as bytes: the hashes are recomputed from exactly what Redis holds."""
    reply = await redis.execute_command(  # type: ignore[no-untyped-call]
        "EVAL", audit_scripts.READ, 3, *keys.audit_keys(tag), start, count, **{NEVER_DECODE: True}
    )
    chain, seal, raw = reply
    return BucketView(_flat(chain), _flat(seal), [_chain_entry(item) for item in raw])


class Sealer:
    def __init__(self, redis: aioredis.Redis, settings: StoreSettings) -> None:
        self._redis = redis
        self._settings = settings
        self._key = SealKey(settings.audit_hmac_key) if settings.audit_hmac_key else None
        self._trim = EngineScript(redis, audit_scripts.TRIM)
        self._seal = EngineScript(redis, audit_scripts.SEAL)
        self._seen: dict[str, int] = {}
        """Bucket -> ``sealed_ms`` of the latest seal this process saw."""
        self._reported: dict[str, str] = {}
        """Bucket -> the problem last logged for it (logged once, not every round)."""
        self._chained: bool | None = None

    async def run(self) -> int:
        """One round over every bucket; returns how many buckets it sealed."""
        retention_ms = int(self._settings.audit_retention_s * 1000)
        if self._key is not None and self._chained is None:
            self._chained = bool(await self._redis.eval(audit_scripts.HAS_SHA1HEX, 0))
            if not self._chained:
                log.warning("AUDIT_HMAC_KEY is set, but this Redis keeps no audit chain (no redis.sha1hex): no seals")
        if self._key is None or not self._chained:
            for tag in keys.all_buckets():
                await self._trim(keys=keys.audit_keys(tag), args=[retention_ms, MAX_CUT])
            return 0
        now_s, now_us = await self._redis.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        sealed = 0
        for tag in keys.all_buckets():
            sealed += await self._seal_bucket(self._key, tag, now_ms, now_ms - retention_ms)
        return sealed

    async def _seal_bucket(self, key: SealKey, tag: str, now_ms: int, cutoff_ms: int) -> int:
        first = await read_view(self._redis, tag, "-", MAX_CUT)
        seal = Seal.from_hash(tag, first.seal) if first.seal else None
        if seal is not None and not key.valid(seal, first.seal.get("mac", "")):
            return self._problem(tag, "its seal does not verify with AUDIT_HMAC_KEY (forged, or another key)")
        if seal is None and tag in self._seen:
            return self._problem(tag, "its seal was removed")
        if seal is not None and seal.sealed_ms < self._seen.get(tag, 0):
            return self._problem(tag, "its seal went back to an older one")
        anchor = (first.chain.get("anchor_id", ""), first.chain.get("anchor_hash", ""))
        if seal is None:
            entries, end, complete = await self._entries(tag, "-")
            entries = entries[next((at for at, e in enumerate(entries) if e.chained), len(entries)) :]
            head, prev = anchor, anchor[1]
        else:
            self._seen[tag] = seal.sealed_ms
            head, prev = (seal.head_id, seal.head_hash), seal.head_hash
            if head == anchor:  # everything it sealed was trimmed since
                entries, end, complete = await self._entries(tag, "-")
            else:
                entries, end, complete = await self._entries(tag, seal.head_id)
                if not entries or (entries[0].entry_id, entries[0].stored_hash) != head:
                    return self._problem(tag, f"the entry its seal names ({seal.head_id}) was rewritten or removed")
                entries = entries[1:]
        if broken := walk(entries, prev):
            return self._problem(tag, f"{broken.what} at entry {broken.entry_id} ({broken.detail})")
        if entries:
            head = (entries[-1].entry_id, entries[-1].stored_hash)
        recorded = (end.chain.get("head_id", ""), end.chain.get("head_hash", ""))
        if complete and recorded != head and (recorded != ("", "") or entries):
            return self._problem(tag, f"its stream does not end at the head recorded for it ({recorded[0]})")
        if not head[0]:
            return 0  # nothing chained yet
        cut = _cut(first.entries, cutoff_ms, head[0])
        if seal is not None and not cut and (seal.head_id, seal.head_hash) == head:
            return 0  # nothing new
        anchor = cut or anchor
        sealed_ms = max(now_ms, seal.sealed_ms if seal else 0)
        new = Seal(tag, *anchor, *head, sealed_ms=sealed_ms, since_ms=seal.since_ms if seal else sealed_ms)
        args = [first.seal.get("mac", ""), 1 if cut else 0, *anchor, *head, sealed_ms, new.since_ms, key.mac(new)]
        status = as_text(await self._seal(keys=keys.audit_keys(tag), args=args))
        if status == "sealed":
            self._seen[tag] = sealed_ms
            self._reported.pop(tag, None)
            return 1
        if status == "changed":
            log.warning("audit bucket %s changed while it was being sealed; sealing it next round", tag)
        return 0

    async def _entries(self, tag: str, start: str) -> tuple[list[ChainEntry], BucketView, bool]:
        """Up to ``MAX_SEAL`` entries from ``start`` (an id, or ``-``), the view of the last page read, and whether
        they reach the stream's end."""
        entries: list[ChainEntry] = []
        while True:
            view = await read_view(self._redis, tag, start, PAGE)
            entries.extend(view.entries)
            if len(view.entries) < PAGE:
                return entries, view, True
            if len(entries) >= MAX_SEAL:
                return entries, view, False
            start = "(" + entries[-1].entry_id

    def _problem(self, tag: str, problem: str) -> int:
        if self._reported.get(tag) != problem:
            self._reported[tag] = problem
            log.error("not sealing audit bucket %s: %s; run `approval-bot audit --verify`", tag, problem)
        return 0


def _cut(oldest: list[ChainEntry], cutoff_ms: int, head_id: str) -> tuple[str, str] | None:
    """The last entry to trim this round: the newest of ``oldest`` before the cut-off, up to the head to seal."""
    due = [e for e in oldest if id_ms(e.entry_id) < cutoff_ms and id_key(e.entry_id) <= id_key(head_id)]
    return (due[-1].entry_id, due[-1].stored_hash) if due else None


def _flat(values: list[bytes]) -> dict[str, str]:
    return {_text(values[i]): _text(values[i + 1]) for i in range(0, len(values), 2)}


def _chain_entry(item: tuple[bytes, list[bytes]]) -> ChainEntry:
    entry_id, flat = item
    return ChainEntry(_text(entry_id), tuple(zip(flat[::2], flat[1::2], strict=True)))


def _text(value: bytes) -> str:
    return value.decode(errors="replace")


__all__ = ["BucketView", "Sealer", "read_view"]
