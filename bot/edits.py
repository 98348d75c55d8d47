"""Edit before approve: what a person may edit of a request, and how an approval with edits is recorded.

The run that asks stores what may be edited (the draft, the plan, the code, or a tool call's arguments as JSON)
before its card is posted, by approval id, so the replica that receives the Edit click can prefill its modal. An
approval with edits is an ordinary approval by the editor whose feedback holds the edit (``encode``): the audit
keeps what was approved, the card shows what changed, and the run hands the edited version to its workflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.approvals import keys
from bot.approvals.models import as_text

EDITABLE_KINDS = frozenset({"draft", "plan", "code", "tool"})
_PREFIX = "edited:"
_KEY = f"{keys.PREFIX}:editable"


@dataclass(frozen=True, slots=True)
class Editable:
    """What may be edited of one approval: its kind, its tool (for a tool call), and the content."""

    kind: str
    tool: str
    content: str


@dataclass(frozen=True, slots=True)
class Edit:
    original: str
    edited: str


def encode(edit: Edit) -> str:
    """The feedback of an approval with edits."""
    return _PREFIX + json.dumps({"from": edit.original, "to": edit.edited}, ensure_ascii=False)


def decode(feedback: str) -> Edit | None:
    """The edit an approval's feedback holds, or None for an approval as asked."""
    if not feedback.startswith(_PREFIX):
        return None
    try:
        raw = json.loads(feedback[len(_PREFIX) :])
    except ValueError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("to"), str) or not isinstance(raw.get("from"), str):
        return None
    return Edit(raw["from"], raw["to"])


class Editables:
    """What may be edited of each pending approval, shared by every replica; entries expire with the records."""

    def __init__(self, redis: aioredis.Redis, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)

    async def put(self, approval_id: str, editable: Editable) -> None:
        value = json.dumps({"kind": editable.kind, "tool": editable.tool, "content": editable.content})
        await self._redis.set(f"{_KEY}:{approval_id}", value, px=self._ttl_ms)

    async def get(self, approval_id: str) -> Editable | None:
        raw = await self._redis.get(f"{_KEY}:{approval_id}")
        if raw is None:
            return None
        fields = json.loads(as_text(raw))
        return Editable(str(fields["kind"]), str(fields["tool"]), str(fields["content"]))
