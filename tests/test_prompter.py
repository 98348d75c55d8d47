"""The prompter against the emulator with the real slack-sdk client: long drafts, coalesced card updates."""

from __future__ import annotations

import asyncio

import pytest

from bot.approvals import ApprovalKey, ApprovalStore, Outcome, keys
from bot.approvals.connection import connect
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from bot.slack.app import card_client, web_client
from bot.slack.posting import PostFailed
from bot.slack.prompter import Prompter


@pytest.fixture
def prompter(slack: SlackEmulator, store: ApprovalStore) -> Prompter:
    channel = slack.add_channel("approvals", members=[slack.bot_user_id])
    return Prompter(
        web_client(slack.bot_token, slack.api_url),
        store,
        channel,
        card_client=card_client(slack.bot_token, slack.api_url),
    )


async def create(store: ApprovalStore, workflow_id: str, prompt: str = "Deploy?", timeout_s: float = 60):
    return await store.create(
        ApprovalKey(workflow_id, 1), prompt=prompt, requester="U0ALICE123", workflow="draft", timeout_s=timeout_s
    )


async def test_long_draft_is_split_truncated_and_posted_whole_in_the_thread(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    paragraph = "Line with <tags> & ampersands that must survive intact.\n"
    draft = paragraph * 400  # about 22,000 characters: more than a card holds
    approval = await create(store, "wf-long", draft)

    ref = await prompter.post(approval, None)

    card = slack.message(ref.channel, ref.ts)
    assert card is not None and len(card.blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in card.blocks)
    assert "full text in the thread" in str(card.blocks)
    assert "<tags>" not in str(card.blocks) and "&lt;tags&gt; &amp;" in str(card.blocks)
    thread = slack.thread(ref.channel, ref.ts)
    assert blocks.unescape_mrkdwn("".join(m.text for m in thread)) == draft
    assert await store.find_by_message(ref.channel, ref.ts) is not None  # recorded before the thread was posted


async def test_bursts_of_updates_to_one_card_are_coalesced(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    approval = await create(store, "wf-burst")
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
    approval = await create(store, "wf-card")
    ref = await prompter.post(approval, None)

    await store.decide(approval.id, Outcome.APPROVED, "U0BOB45678")
    await prompter.flush()

    card = slack.message(ref.channel, ref.ts)
    assert card is not None
    assert not [b for b in card.blocks if b["type"] == "actions"]
    assert "Approved by <@U0BOB45678>" in card.text

    shown = await store.get(approval.id)
    assert shown is not None and shown.shown == "approved"  # what the reconciler reads: nothing left to redo


async def test_ten_cards_at_once_all_arrive_once_under_slacks_rate_limit(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    approvals = [await create(store, f"wf-many{n}", f"Deploy service {n}?") for n in range(10)]

    refs = await asyncio.wait_for(asyncio.gather(*(prompter.post(a, None) for a in approvals)), 60)

    posted = slack.calls_to("chat.postMessage")
    assert any(c.status == 429 for c in posted)  # Slack's per-channel limit was met...
    cards = slack.messages(prompter.channel_id)
    assert sorted(c.ts for c in cards) == sorted(r.ts for r in refs)  # ...and every card arrived, once
    for approval, ref in zip(approvals, refs, strict=True):
        found = await store.find_by_message(ref.channel, ref.ts)
        assert found is not None and found.id == approval.id


async def test_a_card_whose_answer_was_lost_is_not_posted_twice(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    approval = await create(store, "wf-lost")
    slack.fail_next("chat.postMessage", status=500, error="internal_error", after_handling=True)

    ref = await prompter.post(approval, None)

    cards = slack.messages(prompter.channel_id)
    assert [c.ts for c in cards] == [ref.ts]  # posted once, found again by its metadata
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500]
    assert (await store.find_by_message(ref.channel, ref.ts)) is not None


async def test_a_card_slack_refuses_is_not_retried(
    slack: SlackEmulator, store: ApprovalStore, prompter: Prompter
) -> None:
    approval = await create(store, "wf-refused")
    slack.fail_next("chat.postMessage", status=200, error="invalid_blocks")

    with pytest.raises(PostFailed):
        await prompter.post(approval, None)

    assert slack.messages(prompter.channel_id) == []
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_card_that_cannot_be_recorded_is_withdrawn(
    slack: SlackEmulator, make_redis_server, prompter: Prompter
) -> None:
    server = make_redis_server()
    redis = connect(server.url)
    own = ApprovalStore(redis)
    await own.start(maintenance=False)
    withdrawing = Prompter(prompter.client, own, prompter.channel_id, card_client=prompter.client)
    approval = await create(own, "wf-unrecorded")
    try:
        await redis.delete(keys.record_key(approval.id))  # the record is gone before the card is recorded
        with pytest.raises(PostFailed):
            await withdrawing.post(approval, None)
    finally:
        await own.aclose()
        await redis.aclose()

    [card] = slack.messages(prompter.channel_id)
    assert not [b for b in card.blocks if b["type"] == "actions"]  # nobody can decide what nobody will read
