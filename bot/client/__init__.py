"""Ask for a human's approval in Slack from any Python program: ``ApprovalClient`` (async) and ``ask_sync``.

The client needs only the bots' Redis (``REDIS_URL``); a running ``approval-bot run`` posts the cards. It imports
nothing of Slack or AutoGen (an import-linter contract in ``pyproject.toml`` keeps it so).
"""

from bot.approvals.errors import ApprovalError, PolicyChanged, UnknownApproval
from bot.approvals.policy import PolicyError
from bot.approvals.requests import KeyReused
from bot.client.client import ApprovalClient, ClientClosed, RedisUnavailable, ask_sync
from bot.client.decisions import Decision, Request, Status

__all__ = [
    "ApprovalClient",
    "ApprovalError",
    "ClientClosed",
    "Decision",
    "KeyReused",
    "PolicyChanged",
    "PolicyError",
    "RedisUnavailable",
    "Request",
    "Status",
    "UnknownApproval",
    "ask_sync",
]
