"""Messages to the person who started a run; they live in ``bot.slack.blocks.reports`` (re-exported here)."""

from bot.slack.blocks.replies import non_approver_reply_text, not_an_approver_reply_text
from bot.slack.blocks.reports import (
    MAX_RESULT_PARTS,
    REPORT_LIMIT,
    dm_report_intro,
    outcome_report,
    started_text,
    unknown_workflow_text,
)

__all__ = [
    "MAX_RESULT_PARTS",
    "REPORT_LIMIT",
    "dm_report_intro",
    "non_approver_reply_text",
    "not_an_approver_reply_text",
    "outcome_report",
    "started_text",
    "unknown_workflow_text",
]
