"""The approval engine: Redis-backed futures for human decisions. It knows nothing of Slack or AutoGen."""

from bot.approvals.deliveries import claim_delivery
from bot.approvals.errors import (
    AlreadyCounted,
    AlreadyDecided,
    ApprovalError,
    Expired,
    SelfApprovalRefused,
    StaleVersion,
    StoreClosed,
    UnknownApproval,
)
from bot.approvals.models import Approval, ApprovalKey, Outcome, State, Terms
from bot.approvals.settings import StoreSettings
from bot.approvals.store import ApprovalStore, TransitionListener

__all__ = [
    "AlreadyCounted",
    "AlreadyDecided",
    "Approval",
    "ApprovalError",
    "ApprovalKey",
    "ApprovalStore",
    "Expired",
    "Outcome",
    "SelfApprovalRefused",
    "StaleVersion",
    "State",
    "StoreClosed",
    "StoreSettings",
    "Terms",
    "TransitionListener",
    "UnknownApproval",
    "claim_delivery",
]
