"""The App Home tab with the real bot process, the emulator and a real Redis: what waits for a person, deciding
from Home, refusals answered on Home, and Revise from Home reaching the agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from bot.approvals.audit import read_audit
from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import DRAFT_2, People
from tests.e2e.test_approval_flow import (
    DECISION_BUTTONS,
    action_ids,
    decided_card,
    post_prompt,
    report_to,
    start_task,
    texts,
)
from tests.model_server import ModelServer

HOME_BUTTONS = [blocks.ACTION_APPROVE, blocks.ACTION_REVISE, blocks.ACTION_CANCEL]


def buttons(view: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of every button in a Home view."""
    return {e["action_id"]: e["value"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]}


def card_value(message_blocks: list[dict[str, Any]]) -> str:
    return next(e["value"] for b in message_blocks if b["type"] == "actions" for e in b["elements"])


async def home_of(
    slack: SlackEmulator, user: str, holds: Callable[[dict[str, Any]], bool] = lambda view: True
) -> dict[str, Any]:
    """``user``'s Home view once it is published and ``holds``."""
    return await slack.wait_for(lambda: (v := slack.home_view(user)) is not None and holds(v) and v, timeout=15)


async def decisions_of(redis_url: str, approval_id: str) -> list[str]:
    redis = aioredis.from_url(redis_url)
    try:
        return [e.event for e in await read_audit(redis) if e.approval_id == approval_id and e.event != "created"]
    finally:
        await redis.aclose()


async def test_home_lists_what_waits_and_approving_there_decides_the_card(
    slack: SlackEmulator, people: People, start_bot
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    value = card_value(card.blocks)
    await slack.open_app_home(people.bob)
    await slack.open_app_home(people.alice)

    bob_home = await home_of(slack, people.bob)
    assert list(buttons(bob_home)) == HOME_BUTTONS and set(buttons(bob_home).values()) == {value}
    shown = texts(bob_home["blocks"])
    assert "billing page" in shown and f"<@{people.alice}>" in shown
    assert f"/archives/{people.approvals}/p{card.ts.replace('.', '')}|Open the card" in shown  # its permalink
    alice_home = await home_of(slack, people.alice)
    assert "⏳ waiting" in texts(alice_home["blocks"])  # her own request, under "Your recent requests"

    await slack.click_home(people.bob, blocks.ACTION_APPROVE, value)
    decided = await decided_card(slack, people, card.ts)
    report = await report_to(slack, people.alice, "approved")

    assert f"Approved by <@{people.bob}>" in texts(decided.blocks)  # the card in #approvals, as after a card click
    assert "billing page" in report.text  # the run went on with the approved draft
    bob_after = await home_of(slack, people.bob, lambda v: "You approved" in texts(v["blocks"]))
    assert buttons(bob_after) == {} and "Nothing is waiting for you." in texts(bob_after["blocks"])
    await home_of(slack, people.alice, lambda v: f"approved by <@{people.bob}>" in texts(v["blocks"]))
    assert slack.ephemerals(people.bob) == []  # nothing was answered in a channel for a click in Home


async def test_a_non_approver_sees_no_buttons_and_their_click_is_refused_on_their_home(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    await slack.open_app_home(people.mallory)
    mallory_home = await home_of(slack, people.mallory)
    assert buttons(mallory_home) == {} and "You are not an approver" in texts(mallory_home["blocks"])

    # A click that names the approval anyway (a Home published before she left the approvers list, a forgery):
    await slack.open_app_home(people.bob)
    await home_of(slack, people.bob, lambda v: bool(buttons(v)))
    forged = slack.build_home_click(people.bob, blocks.ACTION_APPROVE, card_value(card.blocks))
    forged["user"] = {"id": people.mallory, "username": "mallory", "name": "mallory", "team_id": slack.team_id}
    await slack.send_interactive(forged)

    refused = await home_of(slack, people.mallory, lambda v: "not on the approvers list" in texts(v["blocks"]))
    assert buttons(refused) == {}
    assert slack.ephemerals(people.mallory) == []  # no channel to answer in: the answer is on her Home
    assert await decisions_of(redis_url, card.metadata["event_payload"]["approval_id"]) == []
    assert action_ids(slack.message(people.approvals, card.ts).blocks) == DECISION_BUTTONS


async def test_a_click_on_a_decided_entry_is_answered_already_decided_without_a_second_decision(
    slack: SlackEmulator, people: People, start_bot, redis_url: str
) -> None:
    await start_bot()
    card = await start_task(slack, people)
    await slack.open_app_home(people.alice)
    await home_of(slack, people.alice, lambda v: bool(buttons(v)))
    stale = slack.build_home_click(people.alice, blocks.ACTION_APPROVE, card_value(card.blocks))  # not sent yet

    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)  # decided on the card
    await decided_card(slack, people, card.ts)
    await home_of(slack, people.alice, lambda v: not buttons(v))  # the card click refreshed her Home
    await slack.send_interactive(stale)  # her click from the Home she saw before the refresh

    answer = f"This request was already approved by <@{people.bob}>"
    await home_of(slack, people.alice, lambda v: answer in texts(v["blocks"]))
    assert await decisions_of(redis_url, card.metadata["event_payload"]["approval_id"]) == ["approved"]
    assert not [m for m in slack.ephemerals(people.alice) if "already approved" in m.text]  # answered on Home


async def test_revise_from_home_asks_in_a_modal_and_the_agent_gets_the_feedback(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer
) -> None:
    bot = await start_bot()
    card = await start_task(slack, people)
    await slack.open_app_home(people.bob)
    await home_of(slack, people.bob, lambda v: bool(buttons(v)))

    mark = slack.mark()
    await slack.click_home(people.bob, blocks.ACTION_REVISE, card_value(card.blocks))
    opened = await slack.next_call("views.open", since=mark, where=lambda c: c.ok)
    (modal,) = slack.open_views(people.bob)
    assert modal.id == opened.response["view"]["id"] and modal.title == "Ask for a revision"
    assert slack.thread(people.approvals, card.ts) == []  # no "reply in this thread" for a Revise in Home

    submitted = await slack.submit_view(
        people.bob, modal.id, {"home_feedback": {"feedback": "Shorter, & mention #billing"}}
    )
    assert (await slack.wait_ack(submitted)).get("payload") in (None, {})  # accepted: the modal closes
    second = await post_prompt(slack, people, mark)
    revised = await decided_card(slack, people, card.ts)
    new_card = slack.message(people.approvals, second.response["ts"])

    assert not slack.open_views(people.bob)
    assert f"Revision requested by <@{people.bob}>" in texts(revised.blocks)
    assert "Shorter, &amp; mention #billing" in texts(revised.blocks)
    assert DRAFT_2.splitlines()[-1] in texts(new_card.blocks)  # the agent's revision
    asked = model_server.asked(bot.model_name)
    assert any("Shorter, & mention #billing" in str(m.get("content")) for r in asked for m in r.messages)
    # his Home says what he did, then (once the revision's card is posted) shows the revision waiting for him
    home = await home_of(slack, people.bob, lambda v: "You asked to revise" in texts(v["blocks"]) and bool(buttons(v)))
    assert set(buttons(home).values()) == {card_value(new_card.blocks)}
