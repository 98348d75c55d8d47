"""``approval-bot audit --verify``: recompute every bucket's audit chain and say whether it is intact.

One chain per bucket (``bot.approvals.chain``), read in pages; each page comes with the bucket's chain record and
seal in one script, so entries appended or trimmed meanwhile are seen consistently (a bucket whose start moved
while it was read is read again). Checked, in order: every entry's hash and its link to the one before (the first
kept one to the anchor a retention trim left), that the stream ends at the recorded head (a cut tail), and, with
``AUDIT_HMAC_KEY``, the seal: its MAC, that its anchor is the chain's, that its head is on the chain with the sealed
hash, that nothing older than the sealing window is left unsealed, and that nothing (from ``--since``) was written
before the bucket's sealing began.

Exit status: 0 intact, 1 not (the first bad entry of each broken chain is named), 3 when this Redis keeps no chain
(its Lua has no ``redis.sha1hex``: nothing can be verified). Prints no setting and no key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import redis.asyncio as aioredis

from bot.approvals import audit_scripts, keys
from bot.approvals.chain import Break, ChainEntry, Seal, SealKey, id_key, walk
from bot.approvals.sealing import BucketView, read_view

SEAL_WINDOW_S = 60.0
"""An entry not yet sealed this long after it was written fails the check (maintenance seals every round, 2 s)."""
PAGE = 1000
ATTEMPTS = 3
INTACT, BROKEN, NO_CHAIN = 0, 1, 3


@dataclass(frozen=True, slots=True)
class BucketReport:
    bucket: str
    entries: int = 0
    unchained: int = 0
    """Entries before the chain's first one (written by a version that did not chain)."""
    head: str = ""
    sealed_through: str = ""
    sealed_ms: int = 0
    unsealed: int = 0
    """Entries after the seal's head, all younger than the sealing window."""
    problem: Break | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    chained: bool
    keyed: bool
    buckets: list[BucketReport] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if not self.chained:
            return NO_CHAIN
        return BROKEN if any(b.problem for b in self.buckets) else INTACT


async def verify_audit(
    redis: aioredis.Redis,
    key: SealKey | None = None,
    *,
    since_ms: int = 0,
    now_ms: int | None = None,
    window_s: float = SEAL_WINDOW_S,
) -> Verdict:
    if not await redis.eval(audit_scripts.HAS_SHA1HEX, 0):
        return Verdict(chained=False, keyed=key is not None)
    if now_ms is None:
        now_s, now_us = await redis.time()
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
    checks = _Checks(key, since_ms, now_ms, int(window_s * 1000))
    reports = [await _bucket(redis, tag, checks) for tag in keys.all_buckets()]
    return Verdict(chained=True, keyed=key is not None, buckets=reports)


@dataclass(frozen=True, slots=True)
class _Checks:
    key: SealKey | None
    since_ms: int
    now_ms: int
    window_ms: int


async def _bucket(redis: aioredis.Redis, tag: str, checks: _Checks) -> BucketReport:
    for _ in range(ATTEMPTS):
        first = last = await read_view(redis, tag, "-", PAGE)
        entries = list(first.entries)
        while len(last.entries) == PAGE:
            last = await read_view(redis, tag, "(" + entries[-1].entry_id, PAGE)
            entries.extend(last.entries)
        report = _check(tag, first, last, entries, checks)
        if report.problem is None or first.chain.get("anchor_id") == last.chain.get("anchor_id"):
            return report  # else a trim ran while the bucket was read: read it again
    return report


def _check(tag: str, first: BucketView, last: BucketView, entries: list[ChainEntry], checks: _Checks) -> BucketReport:
    unchained = next((at for at, entry in enumerate(entries) if entry.chained), len(entries))
    chained = entries[unchained:]
    anchor = (first.chain.get("anchor_id", ""), first.chain.get("anchor_hash", ""))
    head = (last.chain.get("head_id", ""), last.chain.get("head_hash", ""))
    report = BucketReport(tag, entries=len(entries), unchained=unchained, head=head[0])
    problem = walk(chained, anchor[1])
    if problem is not None and problem.what == "deleted" and problem.entry_id == chained[0].entry_id:
        start = f"the anchor {anchor[0]} (where retention trimmed)" if anchor[0] else "the start of the chain"
        problem = Break(problem.entry_id, "deleted", f"it does not follow {start}: an entry before it was deleted")
    problem = problem or _tail(chained, head, (last.chain.get("anchor_id", ""), last.chain.get("anchor_hash", "")))
    if checks.key is None:
        return replace(report, problem=problem)
    return _sealed(report, last, entries[:unchained], chained, checks, problem)


def _tail(chained: list[ChainEntry], head: tuple[str, str], anchor: tuple[str, str]) -> Break | None:
    """The stream must end at the head recorded outside it."""
    if not head[0]:
        if chained:
            return Break(chained[-1].entry_id, "tail cut", "the record of the chain's head is missing")
        return None
    if not chained:
        if head == anchor:
            return None  # retention trimmed everything
        return Break(head[0], "tail cut", f"the stream holds none of its chain, up to its head {head[0]}")
    end = chained[-1]
    if end.entry_id == head[0]:
        if end.stored_hash != head[1]:
            return Break(end.entry_id, "altered", "its hash is not the head's recorded one: it was rewritten")
        return None
    if id_key(head[0]) > id_key(end.entry_id):
        return Break(head[0], "tail cut", f"the entries after {end.entry_id} up to the head {head[0]} are missing")
    at = next((at for at, entry in enumerate(chained) if entry.entry_id == head[0]), None)
    if at is None:
        return Break(head[0], "deleted", "the chain's head entry is missing")
    return Break(chained[at + 1].entry_id, "inserted", f"it was appended after the head {head[0]}, not by the engine")


def _sealed(
    report: BucketReport,
    view: BucketView,
    unchained: list[ChainEntry],
    chained: list[ChainEntry],
    checks: _Checks,
    problem: Break | None,
) -> BucketReport:
    assert checks.key is not None
    anchor = (view.chain.get("anchor_id", ""), view.chain.get("anchor_hash", ""))
    seal = Seal.from_hash(report.bucket, view.seal) if view.seal else None
    covered: list[ChainEntry] = []
    unsealed = chained
    found: list[Break] = []
    if seal is not None:
        if not checks.key.valid(seal, view.seal.get("mac", "")):
            why = "its MAC does not verify: it was forged, or AUDIT_HMAC_KEY is not the bots' key"
            return replace(report, problem=Break(seal.head_id or "-", "bad seal", why))
        if (seal.anchor_id, seal.anchor_hash) != anchor:
            was = seal.anchor_id or "the beginning"
            why = f"the chain's start moved from {was} after its seal: entries were removed without a sealed trim"
            found.append(Break(chained[0].entry_id if chained else anchor[0], "deleted", why))
        at = next((at for at, entry in enumerate(chained) if entry.entry_id == seal.head_id), None)
        if at is not None:
            covered, unsealed = chained[: at + 1], chained[at + 1 :]
            if chained[at].stored_hash != seal.head_hash:
                why = "its hash is not the sealed one: an entry up to it was rewritten and the chain recomputed"
                found.append(Break(seal.head_id, "altered", why))
        elif (seal.head_id, seal.head_hash) != anchor:
            found.append(Break(seal.head_id, "deleted", "the entry its seal names is missing"))
        report = replace(report, sealed_through=seal.head_id, sealed_ms=seal.sealed_ms)
    late = next((e for e in unsealed if e.at_ms < checks.now_ms - checks.window_ms), None)
    if late is not None:
        why = f"unsealed after {checks.window_ms // 1000} s: do the bots run with this key? was the seal removed?"
        found.append(Break(late.entry_id, "not sealed", why))
    old = next((e for e in unchained if e.at_ms >= checks.since_ms), None)
    if old is not None:
        why = "written before the chain began, so nothing proves it; --since limits this check"
        found.append(Break(old.entry_id, "not sealed", why))
    begun = seal.since_ms - checks.window_ms if seal else 0
    early = next((e for e in covered if checks.since_ms <= e.at_ms < begun), None)
    if early is not None and seal is not None:
        why = (
            f"written before this chain's sealing began ({_when(seal.since_ms)}), so its seal proves nothing"
            " (AUDIT_HMAC_KEY set since, or the seal was removed and made again); --since limits this check"
        )
        found.append(Break(early.entry_id, "not sealed", why))
    if problem is None and found:
        problem = min(found, key=lambda b: id_key(b.entry_id))
    young = len(unsealed) if late is None else 0
    return replace(report, unsealed=young, problem=problem)


def render(verdict: Verdict) -> str:
    if not verdict.chained:
        return (
            "This Redis keeps no audit chain: its Lua has no redis.sha1hex (an embedded fakeredis?), so its entries"
            " were written unchained and nothing can be verified.\n"
        )
    lines = []
    for b in verdict.buckets:
        if not b.entries and not b.head:
            continue
        if b.problem is not None:
            lines.append(f"{b.bucket}  BROKEN at {b.problem.entry_id}: {b.problem.what} ({b.problem.detail})")
            continue
        sealed = f", sealed through {b.sealed_through} at {_when(b.sealed_ms)}" if b.sealed_through else ""
        young = f", {b.unsealed} not yet sealed" if verdict.keyed and b.unsealed else ""
        old = f", {b.unchained} from before the chain began" if b.unchained else ""
        lines.append(f"{b.bucket}  intact: {b.entries} entries{sealed}{young}{old}")
    broken = [b for b in verdict.buckets if b.problem]
    if broken:
        lines.append(f"NOT INTACT: {len(broken)} of {keys.BUCKETS} chains broken (first bad entry named for each)")
    elif verdict.keyed:
        lines.append("intact, and sealed with AUDIT_HMAC_KEY: no sealed entry was altered, deleted or reordered")
    else:
        lines.append(
            "intact as a hash chain; without AUDIT_HMAC_KEY this cannot show that the chain was not recomputed by"
            " someone who can write to Redis"
        )
    return "".join(line + "\n" for line in lines)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
