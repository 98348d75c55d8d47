"""``approval-bot audit --policy-report``: per policy rule, what it matched, who decided, and whether people agreed
with its shadow.

Counted from the audit (``bot.approvals.audit``), one entry at a time, in any order: a ``created`` entry is a
request the rule matched; an outcome (``approved``, ``revised``, ``cancelled``, ``expired``) is counted under the
rule it carries, as decided by the rule itself (``policy:<rule>``: auto-approved or denied), by a standing approval
(``standing:<id>``), by people, or by nobody (expired). A shadow rule's outcomes carry what it would have done
(``shadow``): people agreed when it would have approved and they approved, or it would have refused and they
cancelled or revised; an expiry is no decision, so it counts neither way. Quorum steps and refused attempts are
not outcomes. With ``--since``, a request created before it may have its outcome counted but not its match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from bot.approvals.audit import AuditEntry
from bot.rulings import POLICY_DECIDER
from bot.standing import DECIDER as STANDING_DECIDER

FORMATS = ("text", "json")
OUTCOMES = ("approved", "revised", "cancelled", "expired")
NO_RULE = "(none recorded)"


@dataclass(slots=True)
class RuleReport:
    rule: str
    shadow: str = ""
    """What the rule would have done while in shadow mode (``auto``, ``deny``; both if it changed), else ""."""
    matched: int = 0
    approved: int = 0
    revised: int = 0
    cancelled: int = 0
    """By people: approved, revised, cancelled."""
    expired: int = 0
    """Nobody decided before the deadline."""
    auto_approved: int = 0
    denied: int = 0
    """By the rule itself (``policy:<rule>``)."""
    standing: int = 0
    """Approved by a standing approval, not a person at the time."""
    agreed: int = 0
    disagreed: int = 0
    """Shadow outcomes people decided: the same as the rule would have, or not."""

    @property
    def agreement(self) -> float | None:
        decided = self.agreed + self.disagreed
        return self.agreed / decided if decided else None


class Tally:
    """Counts entries as they are read (the audit may be long: nothing is kept but the counts)."""

    def __init__(self) -> None:
        self._rules: dict[str, RuleReport] = {}

    def add(self, entries: Iterable[AuditEntry]) -> None:
        for entry in entries:
            if entry.event != "created" and entry.event not in OUTCOMES:
                continue
            name = entry.rule or NO_RULE
            report = self._rules.setdefault(name, RuleReport(name))
            if entry.shadow and entry.shadow not in report.shadow.split("+"):
                report.shadow = "+".join(filter(None, [report.shadow, entry.shadow]))
            if entry.event == "created":
                report.matched += 1
            else:
                _count(report, entry)

    def reports(self) -> list[RuleReport]:
        """One report per rule seen, most matched first."""
        return sorted(self._rules.values(), key=lambda r: (-r.matched, r.rule))


def policy_report(entries: Iterable[AuditEntry]) -> list[RuleReport]:
    tally = Tally()
    tally.add(entries)
    return tally.reports()


def _count(report: RuleReport, entry: AuditEntry) -> None:
    deciders = (entry.deciders or entry.user).split(",")
    if entry.event == "expired":
        report.expired += 1
    elif deciders[0].startswith(f"{POLICY_DECIDER}:"):
        if entry.event == "approved":
            report.auto_approved += 1
        else:
            report.denied += 1
    elif deciders[0].startswith(f"{STANDING_DECIDER}:"):
        report.standing += 1
    else:
        setattr(report, entry.event, getattr(report, entry.event) + 1)
        if entry.shadow:
            same = entry.event == "approved" if entry.shadow == "auto" else entry.event in ("cancelled", "revised")
            if same:
                report.agreed += 1
            else:
                report.disagreed += 1


def render(reports: list[RuleReport], form: str) -> str:
    if form == "json":
        rows = [{**asdict(r), "agreement": r.agreement} for r in reports]
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if form != "text":
        raise ValueError(f"--policy-report shows {' or '.join(FORMATS)}, not {form}")
    if not reports:
        return "no requests in the audit for this period\n"
    return "".join(_lines(r) for r in reports)


def _lines(r: RuleReport) -> str:
    mode = f" (shadow: would {'approve' if r.shadow == 'auto' else 'refuse' if r.shadow == 'deny' else r.shadow})"
    head = f"rule {r.rule}{mode if r.shadow else ''}: matched {r.matched}\n"
    people = f"  people: {r.approved} approved, {r.revised} revised, {r.cancelled} cancelled; {r.expired} expired\n"
    by_rule = f"  by the rule: {r.auto_approved} approved, {r.denied} denied\n" if r.auto_approved or r.denied else ""
    standing = f"  by standing approvals: {r.standing}\n" if r.standing else ""
    agreement = ""
    if r.shadow:
        rate = f" ({r.agreement:.0%})" if r.agreement is not None else ""
        agreement = f"  agreed with the rule: {r.agreed} of {r.agreed + r.disagreed} decided{rate}\n"
    return head + people + by_rule + standing + agreement
