"""The approval engine: Redis-backed futures for human decisions. It knows nothing of Slack or AutoGen."""

from bot.approvals.deliveries import claim_delivery
from bot.approvals.errors import AlreadyDecided, ApprovalError, Expired, StoreClosed, UnknownApproval
from bot.approvals.models import Approval, ApprovalKey, Outcome, State
from bot.approvals.settings import StoreSettings
from bot.approvals.store import ApprovalStore, TransitionListener

__all__ = [
    "AlreadyDecided",
    "Approval",
    "ApprovalError",
    "ApprovalKey",
    "ApprovalStore",
    "Expired",
    "Outcome",
    "State",
    "StoreClosed",
    "StoreSettings",
    "TransitionListener",
    "UnknownApproval",
    "claim_delivery",
]
