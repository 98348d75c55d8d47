"""Approvals asked from outside the bots (a script, a CI job, an MCP client): the one way in for such an asker.

``Requests.create`` makes the approval through the engine, idempotent by a key the asker supplies, under the policy
the running bots published (``published_policy.py``): the rule is worked out here and recorded by the CREATE
script only if that policy is still the published one, in the same atomic step that creates the record. ``auto``
and ``deny`` are decided in that step (by ``policy:<rule>``; a denial is a cancellation saying so) and get no card;
``ask`` and ``ask_two`` are pending with the rule's terms (quorum, self-approval), which ``decide`` enforces. An
asker using this module cannot skip a ``deny`` or an ``ask_two``. (Anyone who may write to the bots' Redis could
write records directly: Redis access is the trust boundary, as it is for the bots themselves.)

With no policy published yet (no bot has started), a person is asked, and the requester may not approve it.

A pending approval without a card is then handed to the bots through the card stream (``card_stream.py``); its card,
clicks, audit, expiry and reconciliation are the same as for a run inside a bot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.approvals.card_stream import CardStream
from bot.approvals.errors import ApprovalError, PolicyChanged
from bot.approvals.models import Approval, ApprovalKey, Outcome, ask_digest
from bot.approvals.policy import (
    DEFAULT_RULING,
    Action,
    Request,
    Ruling,
    annotated,
    decider_for,
    denial,
    terms_under,
)
from bot.approvals.published_policy import NONE_PUBLISHED, read_published
from bot.approvals.store import ApprovalStore

log = logging.getLogger(__name__)

EXTERNAL = "external"
"""The ``workflow`` of every approval asked from outside the bots (cards offer no Edit and no standing approval
for it: nothing outside would read them)."""
TEXT_KIND = "request"
"""The policy kind of a text request from outside (a tool call's is ``tool``)."""
MAX_TITLE = 200
MAX_DETAILS = 30_000
MAX_TOOL = 200
MAX_REQUESTER = 80
MAX_KEY = 500
MAX_TIMEOUT_S = 30 * 24 * 3600.0
_POLICY_TRIES = 5
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


class KeyReused(ApprovalError, ValueError):
    """The idempotency key was used before for a different request; its approval is not this one's answer."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"the key of approval {approval.id} was used before for a different request")
        self.approval = approval


@dataclass(frozen=True, slots=True)
class Asked:
    """What an asker outside the bots asks about, and for how long."""

    title: str
    details: str = ""
    requester: str = ""
    """A Slack user id (``U…``: self-approval rules apply to that person) or a free-text name (shown, never
    matched against who clicks: ``self_approval: deny`` cannot refuse a person it cannot recognise)."""
    timeout_s: float = 3600.0
    key: str | None = None
    tool: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(bool(self.title.strip()), "title must not be empty")
        _check(len(self.title) <= MAX_TITLE, f"title must be at most {MAX_TITLE} characters")
        _check(len(self.details) <= MAX_DETAILS, f"details must be at most {MAX_DETAILS} characters")
        _check(len(self.requester) <= MAX_REQUESTER, f"requester must be at most {MAX_REQUESTER} characters")
        _check("," not in self.requester, "requester may not contain a comma")
        _check(0 < self.timeout_s <= MAX_TIMEOUT_S, f"timeout must be positive and at most {MAX_TIMEOUT_S:.0f} s")
        _check(self.key is None or 0 < len(self.key) <= MAX_KEY, f"key must be 1 to {MAX_KEY} characters")
        _check(len(self.tool) <= MAX_TOOL and not any(c in self.tool for c in "`\n\r"), "tool name is not valid")
        _check(not self.arguments or bool(self.tool), "arguments need a tool name")
        try:
            self.args_json  # noqa: B018 (JSON must hold the arguments: they are recorded and shown as JSON)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"arguments must be JSON: {exc}") from None

    @property
    def kind(self) -> str:
        return "tool" if self.tool else TEXT_KIND

    @property
    def args_json(self) -> str:
        """The arguments as canonical JSON (raises ``ValueError`` for what JSON cannot hold)."""
        return json.dumps(dict(self.arguments), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def text(self) -> str:
        """What people read on the card (escaped for mrkdwn where it is shown)."""
        head = " ".join(self.title.split())
        if not self.tool:
            return f"*{head}*\n{self.details}".rstrip()
        shown = json.dumps(dict(self.arguments), indent=2, ensure_ascii=False, sort_keys=True)
        text = f"*{head}*\nRun the tool `{self.tool}`?"
        if self.details:
            text += f"\n{self.details}"
        return f"{text}\nArguments:\n```\n{shown}\n```"

    def approval_key(self) -> ApprovalKey:
        """The same asker key always names the same approval; without one, a new approval every time."""
        token = hashlib.sha256(self.key.encode()).hexdigest()[:24] if self.key is not None else uuid.uuid4().hex[:24]
        return ApprovalKey(f"ext-{token}", 1)

    def digest(self) -> str:
        details = {"title": self.title, "details": self.details, "requester": self.requester}
        if self.tool:
            details |= {"tool": self.tool, "args": json.loads(self.args_json)}
        return ask_digest(self.kind, "", 0, **details)


class Requests:
    def __init__(self, store: ApprovalStore, cards: CardStream) -> None:
        self._store = store
        self._cards = cards

    async def create(self, asked: Asked, *, channel: str = "") -> Approval:
        """The approval of ``asked``: created under the published policy (decided at once where the policy
        decides), or the one its key made before; a pending one without a card is handed to the bots.
        Raises ``KeyReused`` if the key was used before for something else, ``ValueError`` for bad input and
        ``PolicyError`` if the published policy cannot be read."""
        key, digest, args = asked.approval_key(), asked.digest(), asked.args_json if asked.tool else ""
        for _ in range(_POLICY_TRIES):
            published = await read_published(self._store.redis, key.approval_id)
            if published is None:
                ruling, rev, self_approval = DEFAULT_RULING, NONE_PUBLISHED, False
            else:
                request = Request(asked.kind, f"{asked.title}\n{asked.details}", asked.tool, asked.arguments)
                ruling, rev, self_approval = published.policy.rule_for(request), published.rev, published.self_approval
            try:
                approval = await self._store.create(
                    key,
                    prompt=annotated(asked.text(), ruling),
                    requester=asked.requester,
                    workflow=EXTERNAL,
                    timeout_s=asked.timeout_s,
                    digest=digest,
                    terms=terms_under(ruling, kind=asked.kind, tool=asked.tool, args=args, self_approval=self_approval),
                    policy_rev=rev,
                    decided=_decided_by(ruling),
                )
                break
            except PolicyChanged:
                log.info("the published policy changed while %s was created; working its terms out again", key)
        else:
            raise PolicyChanged(key.approval_id)
        if approval.digest != digest:
            raise KeyReused(approval)
        if approval.pending and not approval.ts:
            await self._cards.request(approval.id, channel_named(channel))
        return approval


def channel_named(channel: str) -> str:
    """A channel as the bots' ``APPROVALS_CHANNEL`` spells it: an ID as it is, a name as ``#name``."""
    channel = channel.strip()
    if not channel or _CHANNEL_ID.match(channel):
        return channel
    return "#" + channel.removeprefix("#").lower()


def _decided_by(ruling: Ruling) -> tuple[Outcome, str, str] | None:
    if ruling.action is Action.AUTO:
        return Outcome.APPROVED, decider_for(ruling), ""
    if ruling.action is Action.DENY:
        return Outcome.CANCELLED, decider_for(ruling), denial(ruling)
    return None


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
