"""The risk policy applied to what a workflow asks: which rule answers, what the card says of it, and the digest.

The policy itself (rules, matching, the file) is ``bot.approvals.policy``; this joins it to the workflows' ``Ask``.
"""

from __future__ import annotations

import json

from bot.approvals.models import Terms, ask_digest
from bot.approvals.policy import (
    DEFAULT_RULING,
    POLICY_DECIDER,
    Action,
    Policy,
    Request,
    Ruling,
    annotated,
    decider_for,
    denial,
    terms_under,
)
from workflows.types import Ask

__all__ = ["POLICY_DECIDER", "decider_for", "denial", "digest_of", "ruling_for", "shown_text", "terms_for"]


def ruling_for(policy: Policy | None, request: Ask) -> Ruling:
    """What the policy says of ``request``; a question that may not be answered for a person is always asked."""
    if policy is None:
        return DEFAULT_RULING
    ruling = policy.rule_for(Request(request.kind, request.text, request.tool, request.args))
    if request.always_ask and ruling.action in (Action.AUTO, Action.DENY):
        return Ruling(ruling.rule, Action.ASK, ruling.risk, ruling.self_approval)
    return ruling  # a shadow rule's ruling asks already (``Ruling.shadow`` says what the rule would have done)


def shown_text(request: Ask, ruling: Ruling) -> str:
    """What the step records as asked (the card's text, when a person is asked): the request, and the rule
    that answers or asks it (unless it is the default)."""
    return annotated(request.text, ruling)


def digest_of(request: Ask, text: str, revision: int) -> str:
    """sha256 of what is asked (``ask_digest``). A draft keeps the kind ``text`` its approvals were created with
    before kinds existed, so a run resumed across that upgrade re-attaches to its card."""
    kind = "text" if request.kind == "draft" else request.kind
    details: dict[str, object] = {"tool": request.tool, "args": dict(request.args)} if request.tool else {}
    if request.preconditions:  # absent when there are none, so digests made before preconditions stay the same
        details["preconditions"] = dict(request.preconditions)
    return ask_digest(kind, text, revision, **details)


def terms_for(request: Ask, ruling: Ruling, self_approval: bool) -> Terms:
    """What the engine enforces and audits for ``request`` under ``ruling``: two different approvers for
    ``ask_two``, whether the requester may approve (the rule's word, else ``self_approval``: ``SELF_APPROVAL``),
    and the kind, tool, arguments and rule, and what a shadow rule would have done."""
    args = json.dumps(dict(request.args), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return terms_under(ruling, kind=request.kind, tool=request.tool, args=args, self_approval=self_approval)
