"""The audit's hash chain and its seal, as pure functions: what the Lua scripts compute, recomputed in Python.

Each bucket's audit stream is one chain (a bucket is one Cluster slot, and a script can extend only a chain in its
own slot). An entry's fields are stored in the order the script gave them: its own fields, then ``prev`` (the hash
of the entry before it, "" for the first one ever), then ``hash``::

    hash = sha1hex(canonical(every field pair before ``hash``, in stored order))
    canonical(pairs) = the MessagePack array [name1, value1, name2, value2, ...], each element a str of its bytes

MessagePack as Redis's Lua ``cmsgpack.pack`` writes it: the array's header is 0x90|n for n <= 15, else 0xdc and n
in 2 bytes (0xdd and 4 bytes past 65535); a string's is 0xa0|len for len <= 31, else 0xd9 and 1 byte, 0xda and 2,
0xdb and 4 (big-endian). Lengths make it unambiguous whatever a value holds, and C code makes it cheap in Lua (a
loop of Lua concatenations cost 6 us a decision, ``cmsgpack`` 1.4). ``sha1hex`` is what Redis 7.0's Lua offers;
the stream entry id is not hashed (``XADD *`` makes it after the hash is computed) but ``at_ms`` and the links
are, so an entry cannot move without breaking the chain.

A plain chain can be recomputed by anyone who can write to Redis. The seal is an HMAC-SHA256 made with
``AUDIT_HMAC_KEY``, a key Redis never sees, over the bucket, the chain's anchor (where a retention trim cut it) and
its head: once a head is sealed, no entry up to it can change without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

Pair = tuple[bytes, bytes]

MIN_KEY_LENGTH = 32
"""``AUDIT_HMAC_KEY`` must be at least this many characters (``openssl rand -hex 32`` makes 64)."""
_SEAL_DOMAIN = b"approval-bot audit seal v1"


def canonical(pairs: Sequence[Pair]) -> bytes:
    items = [item for pair in pairs for item in pair]
    return _header(len(items), 0x90, 15, (0xDC, 0xDD)) + b"".join(_str(item) for item in items)


def _str(value: bytes) -> bytes:
    return _header(len(value), 0xA0, 31, (0xDA, 0xDB), one_byte=0xD9) + value


def _header(n: int, fix: int, fix_max: int, wide: tuple[int, int], one_byte: int | None = None) -> bytes:
    if n <= fix_max:
        return bytes([fix | n])
    if one_byte is not None and n <= 0xFF:
        return bytes([one_byte, n])
    if n <= 0xFFFF:
        return bytes([wide[0]]) + n.to_bytes(2, "big")
    return bytes([wide[1]]) + n.to_bytes(4, "big")


def entry_hash(pairs: Sequence[Pair]) -> str:
    """The hash of an entry from its stored pairs, ``prev`` included, ``hash`` left out."""
    return hashlib.sha1(canonical(pairs)).hexdigest()  # what Redis 7.0 Lua has (the seal is the HMAC)


class SealKey:
    """``AUDIT_HMAC_KEY`` as the engine holds it: never shown by ``repr`` or ``str``, never sent to Redis."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"an audit seal key needs at least {MIN_KEY_LENGTH} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "SealKey('**********')"

    __str__ = __repr__

    def mac(self, seal: Seal) -> str:
        message = b"\n".join(
            [
                _SEAL_DOMAIN,
                seal.bucket.encode(),
                seal.anchor_id.encode(),
                seal.anchor_hash.encode(),
                seal.head_id.encode(),
                seal.head_hash.encode(),
                b"%d" % seal.sealed_ms,
                b"%d" % seal.since_ms,
            ]
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(self, seal: Seal, mac: str) -> bool:
        return hmac.compare_digest(self.mac(seal), mac)


@dataclass(frozen=True, slots=True)
class Seal:
    """What a seal states: at ``sealed_ms`` the bucket's chain ran from its anchor (``anchor_id``: the last entry a
    retention trim removed, "" if none) to ``head_id``; sealing of this bucket began at ``since_ms``."""

    bucket: str
    anchor_id: str
    anchor_hash: str
    head_id: str
    head_hash: str
    sealed_ms: int
    since_ms: int

    @classmethod
    def from_hash(cls, bucket: str, fields: dict[str, str]) -> Seal:
        return cls(
            bucket=bucket,
            anchor_id=fields.get("anchor_id", ""),
            anchor_hash=fields.get("anchor_hash", ""),
            head_id=fields.get("head_id", ""),
            head_hash=fields.get("head_hash", ""),
            sealed_ms=int(fields.get("sealed_ms") or 0),
            since_ms=int(fields.get("since_ms") or 0),
        )

    def fields(self, mac: str) -> dict[str, str | int]:
        return {
            "anchor_id": self.anchor_id,
            "anchor_hash": self.anchor_hash,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "sealed_ms": self.sealed_ms,
            "since_ms": self.since_ms,
            "mac": mac,
        }


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One stored entry: its id and its field pairs exactly as Redis holds them, in order."""

    entry_id: str
    pairs: tuple[Pair, ...]

    def field(self, name: str) -> str | None:
        wanted = name.encode()
        return next((value.decode(errors="replace") for key, value in self.pairs if key == wanted), None)

    @property
    def chained(self) -> bool:
        return bool(self.pairs) and self.pairs[-1][0] == b"hash"

    @property
    def stored_hash(self) -> str:
        return self.pairs[-1][1].decode(errors="replace") if self.chained else ""

    @property
    def prev(self) -> str:
        return self.field("prev") or ""

    @property
    def at_ms(self) -> int:
        value = self.field("at_ms") or ""
        return int(value) if value.isdigit() else id_ms(self.entry_id)

    def recomputed_hash(self) -> str:
        return entry_hash(self.pairs[:-1] if self.chained else self.pairs)


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops holding: the entry (``entry_id``), what happened to it, and in plain words how it shows."""

    entry_id: str
    what: str
    """``altered``, ``deleted``, ``reordered``, ``inserted``, ``tail cut``, ``bad seal``, ``not sealed``."""
    detail: str


def walk(entries: Sequence[ChainEntry], prev: str) -> Break | None:
    """The first place where ``entries`` (in stream order) do not form a chain following ``prev``; None if they do.

    A stored hash that its fields do not give is ``altered``; a link to an entry that comes later is ``reordered``;
    a link to an earlier one than the entry before is an ``inserted`` entry between; a link to no entry there is a
    ``deleted`` one."""
    positions = {entry.stored_hash: at for at, entry in enumerate(entries) if entry.chained}
    for at, entry in enumerate(entries):
        if not entry.chained:
            return Break(entry.entry_id, "altered", "it carries no hash (its fields were rewritten)")
        if entry.recomputed_hash() != entry.stored_hash:
            return Break(entry.entry_id, "altered", "its fields do not give its stored hash")
        if entry.prev != prev:
            linked = positions.get(entry.prev)
            if linked is not None and linked > at:
                return Break(entry.entry_id, "reordered", f"it follows {entries[linked].entry_id}, which comes later")
            if linked is not None and linked < at - 1:
                return Break(entries[at - 1].entry_id, "inserted", f"{entry.entry_id} follows an earlier entry")
            before = entries[at - 1].entry_id if at else "the start of the chain"
            return Break(entry.entry_id, "deleted", f"the entry between {before} and it is missing")
        prev = entry.stored_hash
    return None


def id_ms(entry_id: str) -> int:
    ms, _, _ = entry_id.partition("-")
    return int(ms) if ms.isdigit() else 0


def id_key(entry_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair (``1714000000000-3`` -> (1714000000000, 3))."""
    ms, _, seq = entry_id.partition("-")
    return (int(ms) if ms.isdigit() else 0, int(seq) if seq.isdigit() else 0)
