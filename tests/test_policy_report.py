"""``approval-bot audit --policy-report`` over a scripted mix of decisions: per rule, exactly what it matched, who
decided what, and how often people agreed with the shadow rules."""

from __future__ import annotations

import json

import pytest

from bot.approvals import ApprovalKey, ApprovalStore, Expired, Outcome, SelfApprovalRefused, Terms
from bot.approvals.audit import read_audit
from bot.policy_report import policy_report, render
from tests.test_audit_cli import audit

ALICE, BOB, CAROL = "U0ALICE123", "U0BOB45678", "U0CAROL999"


class Script:
    def __init__(self, store: ApprovalStore) -> None:
        self.store = store
        self.n = 0

    async def ask(self, rule: str, shadow: str = "", **terms: object) -> str:
        self.n += 1
        approval = await self.store.create(
            ApprovalKey(f"wf-report{self.n}", 1),
            prompt=f"request {self.n}",
            requester=ALICE,
            workflow="ops",
            timeout_s=60,
            terms=Terms(kind="tool", tool="t", rule=rule, shadow=shadow, **terms),  # type: ignore[arg-type]
        )
        return approval.id

    async def decided(self, rule: str, outcome: Outcome, user: str, shadow: str = "", **terms: object) -> str:
        approval_id = await self.ask(rule, shadow, **terms)
        await self.store.decide(approval_id, outcome, user, "feedback" if outcome is Outcome.REVISED else None)
        return approval_id

    async def expired(self, rule: str, shadow: str = "") -> str:
        approval_id = await self.ask(rule, shadow)
        await self.store.wait(approval_id, timeout=0.01)
        return approval_id


async def scripted_mix(store: ApprovalStore) -> None:
    s = Script(store)
    # reads (shadow: would auto-approve): agreed twice, disagreed once, one expiry, one standing, one pending
    await s.decided("reads", Outcome.APPROVED, BOB, "auto")
    await s.decided("reads", Outcome.APPROVED, CAROL, "auto")
    await s.decided("reads", Outcome.CANCELLED, BOB, "auto")
    await s.expired("reads", "auto")
    await s.decided("reads", Outcome.APPROVED, "standing:st-1", "auto")
    await s.ask("reads", "auto")
    # wipes (shadow: would deny): cancelled and revised agree; an approval by a quorum of two disagrees; a refused
    # self-approval is no outcome, the cancel after it is
    await s.decided("wipes", Outcome.CANCELLED, BOB, "deny")
    await s.decided("wipes", Outcome.REVISED, CAROL, "deny")
    quorum = await s.ask("wipes", "deny", quorum=2)
    await store.decide(quorum, Outcome.APPROVED, BOB)
    await store.decide(quorum, Outcome.APPROVED, CAROL)
    refused = await s.ask("wipes", "deny", self_approval=False)
    with pytest.raises(SelfApprovalRefused):
        await store.decide(refused, Outcome.APPROVED, ALICE)
    await store.decide(refused, Outcome.CANCELLED, BOB)
    # rules that decide for themselves, and the default
    await s.decided("sql-select", Outcome.APPROVED, "policy:sql-select")
    await s.decided("sql-select", Outcome.APPROVED, "policy:sql-select")
    await s.decided("sql-ddl", Outcome.CANCELLED, "policy:sql-ddl")
    await s.decided("default", Outcome.APPROVED, BOB)
    late = await s.expired("default")
    with pytest.raises(Expired):
        await store.decide(late, Outcome.APPROVED, BOB)


EXPECTED = {
    "reads": {"shadow": "auto", "matched": 6, "approved": 2, "cancelled": 1, "expired": 1, "standing": 1,
              "agreed": 2, "disagreed": 1},
    "wipes": {"shadow": "deny", "matched": 4, "approved": 1, "revised": 1, "cancelled": 2, "agreed": 3,
              "disagreed": 1},
    "sql-select": {"matched": 2, "auto_approved": 2},
    "sql-ddl": {"matched": 1, "denied": 1},
    "default": {"matched": 2, "approved": 1, "expired": 1},
}  # fmt: skip
ZERO = {
    "shadow": "",
    "matched": 0,
    "approved": 0,
    "revised": 0,
    "cancelled": 0,
    "expired": 0,
    "auto_approved": 0,
    "denied": 0,
    "standing": 0,
    "agreed": 0,
    "disagreed": 0,
}


async def test_the_report_counts_a_scripted_mix_exactly(store: ApprovalStore, redis_url: str) -> None:
    await scripted_mix(store)

    code, out, err = await audit(redis_url, "--policy-report", "--format", "json")
    assert (code, err) == (0, "")
    rows = {row.pop("rule"): row for row in json.loads(out)}
    assert list(rows) == ["reads", "wipes", "default", "sql-select", "sql-ddl"]  # most matched first
    agreement = {rule: row.pop("agreement") for rule, row in rows.items()}
    assert rows == {rule: ZERO | counts for rule, counts in EXPECTED.items()}
    assert agreement == {"reads": 2 / 3, "wipes": 3 / 4, "default": None, "sql-select": None, "sql-ddl": None}

    code, out, _ = await audit(redis_url, "--policy-report")
    assert code == 0
    assert out.startswith(
        "rule reads (shadow: would approve): matched 6\n"
        "  people: 2 approved, 0 revised, 1 cancelled; 1 expired\n"
        "  by standing approvals: 1\n"
        "  agreed with the rule: 2 of 3 decided (67%)\n"
        "rule wipes (shadow: would refuse): matched 4\n"
    )
    assert "rule sql-select: matched 2\n  people: 0 approved, 0 revised, 0 cancelled; 0 expired\n" in out
    assert "  by the rule: 2 approved, 0 denied\n" in out


async def test_the_audit_carries_what_a_shadow_rule_would_have_done(store: ApprovalStore) -> None:
    s = Script(store)
    approval_id = await s.decided("reads", Outcome.APPROVED, BOB, "auto")
    assert (await store.get(approval_id)).terms.shadow == "auto"  # type: ignore[union-attr]
    entries = [e for e in await read_audit(store.redis) if e.approval_id == approval_id]
    seen = [(e.event, e.rule, e.shadow) for e in entries]
    assert seen == [("created", "reads", "auto"), ("approved", "reads", "auto")]
    assert [r.agreed for r in policy_report(entries)] == [1]


async def test_a_report_of_nothing_and_a_format_it_does_not_have(redis_url: str) -> None:
    code, out, _ = await audit(redis_url, "--policy-report", "--since", "1h")
    assert (code, out) == (0, "no requests in the audit for this period\n")
    code, out, err = await audit(redis_url, "--policy-report", "--format", "csv")
    assert (code, out) == (2, "") and "--policy-report shows --format text or json, not csv" in err
    code, _, err = await audit(redis_url, "--policy-report", "--verify")
    assert code == 2 and "not allowed with argument" in err


def test_render_refuses_other_formats() -> None:
    with pytest.raises(ValueError, match="text or json"):
        render([], "csv")
