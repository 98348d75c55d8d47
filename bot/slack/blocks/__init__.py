"""Pure Block Kit builders and plain-words texts for Slack, by kind; no I/O.

- ``text``: mrkdwn escaping, UTF-16 lengths, excerpts, dates, mentions, links;
- ``split``: cutting long text into pieces within a limit, code blocks closed and reopened across pieces;
- ``approval``: the approval card (pending and decided), its fallback texts and thread overflow;
- ``replies``: private answers and thread messages; ``reports``: messages to the requester of a run.

Every builder returns plain dicts made by ``slack_sdk.models`` objects' ``to_dict()``, so slack-sdk has validated
what it checks, and stays within Slack's documented limits where slack-sdk does not check them. Untrusted text (the
task, the agent's output, feedback, names) is always escaped; only the mentions, dates and links built here are
left as control sequences. Everything is re-exported here: ``from bot.slack import blocks; blocks.prompt_blocks``.
"""

from bot.config import USERGROUP_ID
from bot.slack.blocks.approval import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_REVISE,
    ACTIONS_BLOCK_ID,
    ANYONE_MAY_DECIDE,
    LOST_NOTE,
    MAX_BLOCKS,
    MAX_CARD_TEXT,
    MAX_CONTEXT_ELEMENTS,
    MAX_TEXT_CHARS,
    MAX_TEXT_SECTIONS,
    THREAD_CHUNK_LIMIT,
    TRUNCATED_NOTE,
    WITHDRAWN_NOTE,
    approvers_line,
    decided_blocks,
    decision_text,
    outcome_line,
    prompt_blocks,
    prompt_overflow,
    prompt_text,
    withdrawn_blocks,
    withdrawn_text,
)
from bot.slack.blocks.replies import (
    already_decided_text,
    non_approver_reply_text,
    not_an_approver_text,
    not_started_text,
    revise_already_asked_text,
    revise_request_text,
    unknown_approval_text,
    usage_text,
)
from bot.slack.blocks.reports import (
    MAX_RESULT_PARTS,
    REPORT_LIMIT,
    dm_report_intro,
    outcome_report,
    started_text,
)
from bot.slack.blocks.split import FENCE, Piece, iter_pieces, split_pieces, split_text
from bot.slack.blocks.text import (
    HEADER_LIMIT,
    SECTION_LIMIT,
    escape_mrkdwn,
    escaped_len,
    excerpt,
    link,
    mention,
    mentions,
    message_link,
    person,
    shorten,
    slack_date,
    slack_len,
    slack_relative_date,
    unescape_mrkdwn,
)

__all__ = [
    "ACTIONS_BLOCK_ID",
    "ACTION_APPROVE",
    "ACTION_CANCEL",
    "ACTION_REVISE",
    "ANYONE_MAY_DECIDE",
    "FENCE",
    "HEADER_LIMIT",
    "LOST_NOTE",
    "MAX_BLOCKS",
    "MAX_CARD_TEXT",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_RESULT_PARTS",
    "MAX_TEXT_CHARS",
    "MAX_TEXT_SECTIONS",
    "REPORT_LIMIT",
    "SECTION_LIMIT",
    "THREAD_CHUNK_LIMIT",
    "TRUNCATED_NOTE",
    "USERGROUP_ID",
    "WITHDRAWN_NOTE",
    "Piece",
    "already_decided_text",
    "approvers_line",
    "decided_blocks",
    "decision_text",
    "dm_report_intro",
    "escape_mrkdwn",
    "escaped_len",
    "excerpt",
    "iter_pieces",
    "link",
    "mention",
    "mentions",
    "message_link",
    "non_approver_reply_text",
    "not_an_approver_text",
    "not_started_text",
    "outcome_line",
    "outcome_report",
    "person",
    "prompt_blocks",
    "prompt_overflow",
    "prompt_text",
    "revise_already_asked_text",
    "revise_request_text",
    "shorten",
    "slack_date",
    "slack_len",
    "slack_relative_date",
    "split_pieces",
    "split_text",
    "started_text",
    "unescape_mrkdwn",
    "unknown_approval_text",
    "usage_text",
    "withdrawn_blocks",
    "withdrawn_text",
]
