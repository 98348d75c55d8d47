"""The requester always learns the outcome: through the response_url while it lasts, then by DM."""

from __future__ import annotations

import re

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import start_task

RESPONSE_URL_LIFETIME_S = 30 * 60


def card_path(people: People, ts: str) -> str:
    return f"/archives/{people.approvals}/p{ts.replace('.', '')}"


async def test_started_answer_links_to_the_card(slack: SlackEmulator, people: People, start_bot) -> None:
    await start_bot()

    card = await start_task(slack, people)

    linked = await slack.wait_for(
        lambda: next((m for m in slack.ephemerals(people.alice) if card_path(people, card.ts) in m.text), None), 10
    )
    assert "Started" in linked.text


async def test_after_the_response_url_expired_the_requester_is_told_by_dm(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)  # typed in #general, where the bot is not a member
    await slack.wait_for(lambda: any(card_path(people, card.ts) in m.text for m in slack.ephemerals(people.alice)), 10)
    slack.advance(RESPONSE_URL_LIFETIME_S + 60)

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    dm = await slack.wait_for(lambda: slack.dm_with(people.alice), 15)
    told = await slack.wait_for(lambda: [m for m in slack.messages(dm) if "approved" in m.text] or None, 15)
    everything = "\n".join(m.text for m in slack.messages(dm))
    assert f"<@{people.bob}>" in told[0].text
    assert card_path(people, card.ts) in everything  # the DM links to the card
    assert f"<#{people.general}>" in everything  # and says where the command was typed


async def test_the_whole_approved_result_reaches_the_requester(slack: SlackEmulator, people: People, start_bot) -> None:
    paragraphs = [f"Paragraph {n}: " + "the billing page launches on Monday " * 12 for n in range(40)]
    draft = "\n\n".join(paragraphs)  # about 18,000 characters: more than one message holds
    await start_bot(answers=[draft])
    card = await start_task(slack, people)

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)

    def parts() -> list[str] | None:
        channel = slack.dm_with(people.alice)
        dm = [m.text for m in slack.messages(channel)] if channel else []
        texts = [text for text in dm if "Paragraph" in text]
        joined = "\n".join(texts)
        return texts if all(f"Paragraph {n}:" in joined for n in range(40)) else None

    texts = await slack.wait_for(parts, 20)  # more than the response_url's five uses hold: all of it by DM
    assert len(texts) > 1
    pointer = [m for m in slack.ephemerals(people.alice) if "in a DM" in m.text]
    assert len(pointer) == 1 and "approved" in pointer[0].text
    for text in texts:
        assert len(text) <= 4000
        assert text.count("```") % 2 == 0  # every piece opens and closes its own fence
    joined = re.sub(r"\s+", " ", blocks.unescape_mrkdwn("\n".join(texts)))
    for paragraph in paragraphs:
        assert " ".join(paragraph.split()) in joined
