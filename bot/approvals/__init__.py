"""The approval engine: Redis-backed futures for human decisions. It knows nothing of Slack or AutoGen."""

from bot.approvals.errors import AlreadyDecided, ApprovalError, Expired, UnknownApproval
from bot.approvals.models import Approval, ApprovalKey, Outcome, State
from bot.approvals.store import ApprovalStore, StoreSettings

__all__ = [
    "AlreadyDecided",
    "Approval",
    "ApprovalError",
    "ApprovalKey",
    "ApprovalStore",
    "Expired",
    "Outcome",
    "State",
    "StoreSettings",
    "UnknownApproval",
]
