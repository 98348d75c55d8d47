"""The prompter against the emulator with the real slack-sdk client: long drafts, coalesced card updates."""

from __future__ import annotations

import pytest

from bot.approvals import ApprovalKey, ApprovalStore, Outcome
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from bot.slack.app import web_client
from bot.slack.prompter import Prompter


@pytest.fixture
def prompter(slack: SlackEmulator, store: ApprovalStore) -> Prompter:
    channel = slack.add_channel("approvals")
    return Prompter(web_client(slack.bot_token, slack.api_url), store, channel)


async def test_long_draft_is_split_truncated_and_posted_whole_in_the_thread(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    paragraph = "Line with <tags> & ampersands that must survive intact.\n"
    draft = paragraph * 2000  # about 112,000 characters
    approval = await store.create(
        ApprovalKey("wf-long", 0), prompt=draft, requester="U0ALICE123", workflow="draft", timeout_s=60
    )

    ref = await prompter.post(approval, None)

    card = slack.message(ref.channel, ref.ts)
    assert card is not None and len(card.blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in card.blocks)
    assert "full text in the thread" in str(card.blocks)
    assert "<tags>" not in str(card.blocks) and "&lt;tags&gt; &amp;" in str(card.blocks)
    thread = slack.thread(ref.channel, ref.ts)
    assert blocks.unescape_mrkdwn("".join(m.text for m in thread)) == draft


async def test_bursts_of_updates_to_one_card_are_coalesced(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    approval = await store.create(
        ApprovalKey("wf-burst", 0), prompt="Deploy?", requester="U0ALICE123", workflow="draft", timeout_s=60
    )
    ref = await prompter.post(approval, None)

    for n in range(20):
        prompter.update(ref.channel, ref.ts, f"version {n}", [])
    await prompter.flush()

    updates = slack.calls_to("chat.update")
    assert 1 <= len(updates) <= 2  # the first goes out at once; the rest collapse into the latest
    assert slack.message(ref.channel, ref.ts).text == "version 19"  # type: ignore[union-attr]


async def test_a_decision_updates_the_card_through_the_store(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    store.on_transition(prompter.show_outcome)
    approval = await store.create(
        ApprovalKey("wf-card", 0), prompt="Deploy?", requester="U0ALICE123", workflow="draft", timeout_s=60
    )
    ref = await prompter.post(approval, None)
    await store.attach_message(approval.id, ref.channel, ref.ts)

    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    await prompter.flush()

    card = slack.message(ref.channel, ref.ts)
    assert card is not None
    assert not [b for b in card.blocks if b["type"] == "actions"]
    assert "Approved by <@U0BOB45678>" in card.text
