"""What can go wrong with an approval, named for the condition. The Slack side turns these into plain words."""

from __future__ import annotations

from bot.approvals.models import Approval


class ApprovalError(Exception):
    """Base of every approval-engine error."""


class UnknownApproval(ApprovalError):
    """No such approval: never created, or its record has expired from Redis or was lost."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(f"unknown approval {approval_id!r}")
        self.approval_id = approval_id


class AlreadyDecided(ApprovalError):
    """Someone decided first; ``approval`` says who, what and when."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id} is already {approval.state}")
        self.approval = approval


class Expired(AlreadyDecided):
    """The deadline passed before this decision; ``approval`` holds the expired record."""


class StoreClosed(ApprovalError):
    """The store was closed (the process is shutting down) while this call was waiting on Redis."""

    def __init__(self) -> None:
        super().__init__("the approval store is closed")


class SelfApprovalRefused(ApprovalError):
    """The requester tried to approve their own request where the terms say they may not (audited)."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id}: the requester may not approve their own request")
        self.approval = approval


class StaleVersion(ApprovalError):
    """The click was on a version of the card that asked something else than the approval asks now (its digest
    differs): nothing was recorded."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id}: the click was on another version of the request")
        self.approval = approval


class AlreadyCounted(ApprovalError):
    """This person's approval is counted already; a quorum needs someone else (``approval`` is still pending)."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id}: this person has approved already")
        self.approval = approval


class PolicyChanged(ApprovalError):
    """The policy the bots publish changed between reading it and creating the approval under it (retry)."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(f"approval {approval_id}: the published policy changed while it was created")
        self.approval_id = approval_id
