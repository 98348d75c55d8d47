"""Every Redis key name, channel and default lifetime the approval engine uses.

One approval's keys share a hash-tag bucket (``{b07}``), so its record, the pending index and the audit stream
it touches live in one Redis Cluster slot and the Lua scripts stay legal there. Sixteen buckets spread the load.
The bucket is chosen by the run (the workflow id, the part of ``<workflow_id>.<step>`` before the last dot), so a
run's own keys (``bot.durable``: its record, lease and recorded model answers) share the slot of its approvals.
"""

from __future__ import annotations

import zlib

BUCKETS = 16
PREFIX = "appr"
DECIDED_CHANNEL = f"{PREFIX}:decided"
"""Where decisions are published on one server or a Sentinel master (``PUBLISH``)."""

DEFAULT_RETENTION_S = 7 * 24 * 3600
"""How long a record stays readable after its decision (and after its deadline, if never decided)."""

DEFAULT_AUDIT_RETENTION_S = 90 * 24 * 3600
"""Audit entries older than this are trimmed from the streams by maintenance, which records an anchor where it cut
(``audit_scripts.TRIM`` and ``SEAL``)."""


def bucket(approval_id: str) -> str:
    """The hash-tag bucket of an approval (``wf-1.2``) or of a run (``wf-1``): both by the run's id."""
    return run_bucket(approval_id.rsplit(".", 1)[0] if "." in approval_id else approval_id)


def run_bucket(workflow_id: str) -> str:
    return f"{{b{zlib.crc32(workflow_id.encode()) % BUCKETS:02d}}}"


def record_key(approval_id: str) -> str:
    return f"{PREFIX}:{bucket(approval_id)}:{approval_id}"


def pending_key(bucket_tag: str) -> str:
    """ZSET of pending approval ids in one bucket, scored by deadline (ms)."""
    return f"{PREFIX}:{bucket_tag}:pending"


def audit_key(bucket_tag: str) -> str:
    """Stream of audit entries for one bucket: one hash chain (``chain.py``)."""
    return f"{PREFIX}:{bucket_tag}:audit"


def audit_chain_key(bucket_tag: str) -> str:
    """Hash of the bucket's chain outside its stream: ``head_id``/``head_hash`` (the last entry appended, so a cut
    tail shows) and ``anchor_id``/``anchor_hash`` (the last entry a retention trim removed, so a trim never looks
    like a deletion). Like the stream, it has no TTL: one per bucket, of fixed size."""
    return f"{PREFIX}:{bucket_tag}:audit:chain"


def audit_seal_key(bucket_tag: str) -> str:
    """Hash holding the bucket's latest seal (``chain.Seal`` and its ``mac``), written only by replicas holding
    ``AUDIT_HMAC_KEY``. One per bucket, of fixed size, no TTL."""
    return f"{PREFIX}:{bucket_tag}:audit:seal"


def audit_keys(bucket_tag: str) -> list[str]:
    """KEYS for the audit scripts (``audit_scripts.py``): stream, chain, seal (one slot)."""
    return [audit_key(bucket_tag), audit_chain_key(bucket_tag), audit_seal_key(bucket_tag)]


def unshown_key(bucket_tag: str) -> str:
    """ZSET of decided approval ids in one bucket whose card does not show their state yet, scored by when a
    reconciler may next report them (ms)."""
    return f"{PREFIX}:{bucket_tag}:unshown"


def decided_channel(bucket_tag: str) -> str:
    """Where decisions of one bucket are published on Redis Cluster (``SPUBLISH``): a shard channel in the slot of
    the bucket's keys, so the TRANSITION script may publish on it and only that slot's shard carries it."""
    return f"{PREFIX}:{bucket_tag}:decided"


def decided_channels() -> list[str]:
    return [decided_channel(tag) for tag in all_buckets()]


def message_key(channel: str, ts: str) -> str:
    """Slack message (channel, ts) -> approval id, so thread replies find their approval."""
    return f"{PREFIX}:msg:{channel}:{ts}"


def all_buckets() -> list[str]:
    return [f"{{b{n:02d}}}" for n in range(BUCKETS)]


def keys_for(approval_id: str) -> list[str]:
    """KEYS for CREATE and TRANSITION: record, pending index, audit stream, unshown index, audit chain (one
    slot)."""
    tag = bucket(approval_id)
    return [f"{PREFIX}:{tag}:{approval_id}", pending_key(tag), audit_key(tag), unshown_key(tag), audit_chain_key(tag)]


def card_keys_for(approval_id: str) -> list[str]:
    """KEYS for ATTACH, MARK_SHOWN and CLAIM_UNSHOWN: record, unshown index (one slot)."""
    return [record_key(approval_id), unshown_key(bucket(approval_id))]


def policy_key(bucket_tag: str) -> str:
    """Hash holding the policy the running bots published (``published_policy.py``), one copy per bucket, so the
    CREATE script reads it in the slot of the record it creates."""
    return f"{PREFIX}:{bucket_tag}:policy"


CARD_REQUESTS = f"{PREFIX}:cards"
"""Stream of card requests from askers outside the bots (``card_requests.py``): each entry names an approval whose
card one bot replica is to post."""
CARD_POSTERS = "posters"
"""The one consumer group every bot replica reads ``CARD_REQUESTS`` in."""


def reminders_key(bucket_tag: str) -> str:
    """ZSET of one bucket's due reminders and escalations (``reminders.py``): members ``<kind>:<id>[,<id>...]``
    (the approvals of one card), scored by when they are due (ms). Every entry is due before its approvals'
    deadline and leaves when claimed and sent, or when found decided: the set cleans itself, like ``pending``."""
    return f"{PREFIX}:{bucket_tag}:reminders"


def reminder_keys(approval_ids: list[str]) -> list[str]:
    """KEYS for the reminder scripts, for the approvals of one card (one run, so one slot): the first record,
    the reminders index, the audit stream, the pending index, the audit chain (where ``scripts.audit`` wants
    them), then the other records."""
    tag = bucket(approval_ids[0])
    first, *others = approval_ids
    return [
        record_key(first),
        reminders_key(tag),
        audit_key(tag),
        pending_key(tag),
        audit_chain_key(tag),
        *(record_key(other) for other in others),
    ]


def seen_key(delivery_id: str) -> str:
    """Marks a Slack delivery (event id or trigger id) as claimed, so a redelivery is dropped by any replica. Holds
    the nonce of the call that claimed it (``deliveries.claim_delivery``)."""
    return f"{PREFIX}:seen:{delivery_id}"
