"""Modals in the emulator: trigger ids, the view rules of views.open / views.update, submissions a real Bolt
``app.view`` listener parses, and what the app's ack does to the modal."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import SlackEmulator
from bot.sandbox.modals import TROUBLE
from tests.sandbox.support import BUTTONS, Connect, command_app, new_app, next_item


def plain(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, **extra}


def text_input(**extra: Any) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": "text", "multiline": True, "initial_value": "Draft v1", **extra}


def modal(**extra: Any) -> dict[str, Any]:
    """The "Edit before approve" modal: a section and one multiline input prefilled with the draft."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "edit_draft",
        "private_metadata": "apr_7f3c",
        "title": plain("Edit the draft"),
        "submit": plain("Approve"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "Change it, then approve."}},
            {"type": "input", "block_id": "draft", "label": plain("Draft"), "element": text_input()},
        ],
    }
    view.update(extra)
    return view


def with_input(**changes: Any) -> dict[str, Any]:
    """``modal()`` whose input block (``blocks[1]``) has ``changes``; ``element`` changes merge into it."""
    view = modal()
    block = view["blocks"][1]
    element = changes.pop("element", None)
    block.update(changes)
    if element is not None:
        block["element"] = {**block["element"], **element}
    return view


async def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        await call
    data = raised.value.response.data
    assert isinstance(data, dict)
    return data


@pytest.fixture
async def card(client: AsyncWebClient, approvals: str) -> str:
    """The ts of a message with buttons, to click on for trigger ids."""
    return str((await client.chat_postMessage(channel=approvals, text="card", blocks=BUTTONS))["ts"])


@pytest.fixture
def trigger(slack: SlackEmulator, alice: str, approvals: str, card: str) -> Any:
    """A fresh trigger id, issued to alice by a click on the card (built, not sent: no app needed)."""

    def issue(user: str = alice) -> str:
        return str(slack.build_click(user, approvals, card, "approval_approve")["trigger_id"])

    return issue


async def opened(client: AsyncWebClient, trigger: Any, view: dict[str, Any] | None = None) -> str:
    response = await client.views_open(trigger_id=trigger(), view=view or modal())
    return str(response["view"]["id"])


def answering(slack: SlackEmulator, answers: list[dict[str, Any]]) -> tuple[Any, asyncio.Queue[dict[str, Any]]]:
    """A Bolt app whose ``edit_draft`` listener queues each submission body and acks with the next answer."""
    app = new_app(slack)
    bodies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.view("edit_draft")
    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        assert view == body["view"]
        await bodies.put(body)
        await ack(**answers.pop(0))

    return app, bodies


# -- trigger ids ----------------------------------------------------------------------------------------


async def test_a_trigger_opens_one_modal_for_its_user_once(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    bob = slack.add_user("bob")
    issued = trigger(bob)
    record = slack.trigger(issued)
    assert record is not None and (record.user, record.source, record.exchanged_at) == (bob, "block_actions", None)

    response = await client.views_open(trigger_id=issued, view=modal())
    view = response["view"]
    assert [v.id for v in slack.open_views(bob)] == [view["id"]] and slack.open_views(alice) == []
    assert (view["type"], view["callback_id"], view["private_metadata"], view["state"]) == (
        "modal",
        "edit_draft",
        "apr_7f3c",
        {"values": {}},
    )
    assert view["root_view_id"] == view["id"] and view["previous_view_id"] is None and view["hash"]
    assert (view["app_id"], view["bot_id"], view["team_id"]) == (slack.app_id, slack.bot_id, slack.team_id)
    assert view["blocks"][1]["optional"] is False and slack.view(view["id"]).user == bob
    assert record.exchanged_by == "views.open"

    again = await error_of(client.views_open(trigger_id=issued, view=modal()))
    assert again["error"] == "exchanged_trigger_id"
    forged = await error_of(client.views_open(trigger_id="1234567890123.1234567.abcdef", view=modal()))
    assert forged["error"] == "invalid_trigger_id"
    missing = await error_of(client.views_open(trigger_id="", view=modal()))
    assert missing["error"] == "invalid_arguments"
    assert len(slack.views) == 1


async def test_a_trigger_expires_three_seconds_after_it_was_issued(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    in_time = trigger()
    late = trigger()
    slack.advance(2.9)
    await opened(client, lambda: in_time)
    slack.advance(0.1)
    assert (await error_of(client.views_open(trigger_id=late, view=modal())))["error"] == "expired_trigger_id"
    assert len(slack.open_views(alice)) == 1


async def test_slash_commands_issue_triggers(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, approvals: str
) -> None:
    app, _ = command_app(slack)
    await connect(app)
    envelope = await slack.slash_command(alice, "edit", channel_id=approvals)
    record = slack.trigger(envelope.payload["trigger_id"])
    assert record is not None and (record.user, record.source) == (alice, "slash_commands")
    await client.views_open(trigger_id=record.trigger_id, view=modal())
    assert len(slack.open_views(alice)) == 1


# -- view rules -----------------------------------------------------------------------------------------

TOO_LONG = "must be less than"
CASES = [
    (modal(title=plain("t" * 25)), f"{TOO_LONG} 25 characters", "/view/title/text"),
    (modal(title={"type": "mrkdwn", "text": "Edit"}), "must be plain_text", "/view/title/type"),
    ({k: v for k, v in modal().items() if k != "title"}, "missing required field: title", "/view"),
    (modal(type="home"), "must be one of: modal", "/view/type"),
    (modal(submit=plain("s" * 25)), f"{TOO_LONG} 25 characters", "/view/submit/text"),
    (modal(close=plain("c" * 25)), f"{TOO_LONG} 25 characters", "/view/close/text"),
    (modal(submit=None), "must define `submit` to use an `input` block in modals", "/view/blocks/1/input"),
    (modal(blocks=[{"type": "divider"}] * 101), "no more than 100 items allowed", "/view/blocks"),
    (modal(blocks=[]), "must provide at least 1 items", "/view/blocks"),
    (modal(private_metadata="m" * 3001), f"{TOO_LONG} 3001 characters", "/view/private_metadata"),
    (modal(callback_id="c" * 256), f"{TOO_LONG} 256 characters", "/view/callback_id"),
    (modal(external_id="e" * 256), f"{TOO_LONG} 256 characters", "/view/external_id"),
    (modal(notify_on_close="yes"), "must be a boolean", "/view/notify_on_close"),
    (modal(blocks=[{"type": "markdown", "text": "**hi**"}]), "unsupported type: markdown", "/view/blocks/0/type"),
    (modal(blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]), f"{TOO_LONG} 3001",
     "/view/blocks/0/text/text"),
    (modal(blocks=[{"type": "header", "text": plain("h" * 151)}]), f"{TOO_LONG} 151", "/view/blocks/0/text/text"),
    (modal(blocks=[{"type": "context", "elements": []}]), "must have 1 to 10 elements", "/view/blocks/0/elements"),
    ({**modal(), "blocks": [modal()["blocks"][1], modal()["blocks"][1]]}, "duplicate block_id",
     "/view/blocks/1/block_id"),
    (with_input(block_id="b" * 256), f"{TOO_LONG} 256 characters", "/view/blocks/1/block_id"),
    (with_input(label=plain("l" * 2001)), f"{TOO_LONG} 2001 characters", "/view/blocks/1/label/text"),
    (with_input(label={"type": "mrkdwn", "text": "Draft"}), "must be plain_text", "/view/blocks/1/label/type"),
    (with_input(hint=plain("h" * 2001)), f"{TOO_LONG} 2001 characters", "/view/blocks/1/hint/text"),
    (with_input(optional="no"), "must be a boolean", "/view/blocks/1/optional"),
    (with_input(dispatch_action=1), "must be a boolean", "/view/blocks/1/dispatch_action"),
    (modal(blocks=[{"type": "input", "label": plain("Draft")}]), "missing required field: element",
     "/view/blocks/0"),
    (modal(blocks=[{"type": "input", "element": text_input()}]), "missing required field: label", "/view/blocks/0"),
    (with_input(element={"type": "button", "text": plain("Go")}), "element type button is not allowed here",
     "/view/blocks/1/element/type"),
    (with_input(element={"action_id": "a" * 256}), f"{TOO_LONG} 256 characters", "/view/blocks/1/element/action_id"),
    (with_input(element={"multiline": "true"}), "must be a boolean", "/view/blocks/1/element/multiline"),
    (with_input(element={"min_length": 3001}), "must be between 0 and 3000", "/view/blocks/1/element/min_length"),
    (with_input(element={"max_length": 0}), "must be between 1 and 3000", "/view/blocks/1/element/max_length"),
    (with_input(element={"max_length": 3001}), "must be between 1 and 3000", "/view/blocks/1/element/max_length"),
    (with_input(element={"max_length": "10"}), "must be an integer", "/view/blocks/1/element/max_length"),
    (with_input(element={"min_length": 5, "max_length": 4}), "must be less than or equal to max_length",
     "/view/blocks/1/element/min_length"),
    (with_input(element={"placeholder": plain("p" * 151)}), f"{TOO_LONG} 151 characters",
     "/view/blocks/1/element/placeholder/text"),
    (with_input(element={"initial_value": "x" * 11, "max_length": 10}), f"{TOO_LONG} 11 characters",
     "/view/blocks/1/element/initial_value"),
    (with_input(element={"initial_value": "😀" * 1501}), f"{TOO_LONG} 3001 characters",
     "/view/blocks/1/element/initial_value"),
]  # fmt: skip


@pytest.mark.parametrize(("view", "problem", "pointer"), CASES)
async def test_invalid_views_are_refused_like_slack(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, trigger: Any, view: Any, problem: str, pointer: str
) -> None:
    answer = await error_of(client.views_open(trigger_id=trigger(), view=view))
    assert answer["error"] == "invalid_arguments"
    messages = answer["response_metadata"]["messages"]
    assert any(m.startswith(f"[ERROR] {problem}") and m.endswith(f"[json-pointer:{pointer}]") for m in messages), (
        messages
    )
    assert slack.open_views(alice) == [] and slack.views == []


async def test_the_edges_of_each_limit_are_accepted(slack: SlackEmulator, client: AsyncWebClient, trigger: Any) -> None:
    element = text_input(initial_value="😀" * 5, min_length=0, max_length=10, placeholder=plain("p" * 150))
    blocks = [{"type": "divider"}] * 98 + [
        {"type": "header", "text": plain("h" * 150)},
        {"type": "input", "block_id": "b" * 255, "label": plain("l" * 2000), "hint": plain("h" * 2000),
         "optional": True, "dispatch_action": False, "element": element},
    ]  # fmt: skip
    edge = modal(
        title=plain("t" * 24),
        submit=plain("s" * 24),
        close=plain("c" * 24),
        private_metadata="m" * 3000,
        callback_id="c" * 255,
        external_id="e" * 255,
        blocks=blocks,
    )
    view_id = await opened(client, trigger, edge)
    assert len(slack.view(view_id).blocks) == 100
    no_inputs = modal(submit=None, blocks=[{"type": "section", "text": plain("Nothing to fill in")}])
    await opened(client, trigger, no_inputs)  # submit is needed only with input blocks


async def test_view_too_large_and_missing_view(client: AsyncWebClient, trigger: Any) -> None:
    huge = modal(blocks=[{"type": "section", "text": plain("x" * 2900)}] * 95)  # > 250 kB
    assert (await error_of(client.views_open(trigger_id=trigger(), view=huge)))["error"] == "view_too_large"
    assert (await error_of(client.api_call("views.open", json={"trigger_id": trigger()})))["error"] == (
        "invalid_arguments"
    )


async def test_external_ids_are_unique_while_their_modal_lives(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    bob = slack.add_user("bob")
    await opened(client, lambda: trigger(bob), modal(external_id="edit-apr_7f3c"))
    taken = await error_of(client.views_open(trigger_id=trigger(), view=modal(external_id="edit-apr_7f3c")))
    assert taken["error"] == "duplicate_external_id"
    # a modal replaced by a new one keeps its external_id taken (slackapi/slack-api-specs#52)
    await opened(client, lambda: trigger(bob), modal(external_id="other"))
    again = await error_of(client.views_open(trigger_id=trigger(), view=modal(external_id="edit-apr_7f3c")))
    assert again["error"] == "duplicate_external_id"
    assert slack.open_views(alice) == [] and len(slack.open_views(bob)) == 1


# -- views.update ---------------------------------------------------------------------------------------


async def test_views_update_by_id_or_external_id_with_the_hash(
    slack: SlackEmulator, client: AsyncWebClient, trigger: Any
) -> None:
    first = (await client.views_open(trigger_id=trigger(), view=modal(external_id="edit-1")))["view"]
    edited = modal(title=plain("Edited"), external_id="edit-1")
    updated = await client.views_update(view_id=first["id"], hash=first["hash"], view=edited)
    assert updated["view"]["id"] == first["id"] and updated["view"]["hash"] != first["hash"]
    assert slack.view(first["id"]).title == "Edited"

    stale = await error_of(client.views_update(view_id=first["id"], hash=first["hash"], view=modal()))
    assert stale["error"] == "hash_conflict"
    assert (await error_of(client.views_update(view_id="V0NOPE0000", view=modal())))["error"] == "not_found"
    for ids in ({}, {"view_id": first["id"], "external_id": "edit-1"}):  # exactly one of them
        refused = await error_of(client.api_call("views.update", json={"view": modal(), **ids}))
        assert refused["error"] == "invalid_arguments"
    long_title = await error_of(client.views_update(view_id=first["id"], view=modal(title=plain("t" * 25))))
    assert long_title["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    by_external = await client.views_update(external_id="edit-1", view=modal(title=plain("Again")))
    assert by_external["view"]["id"] == first["id"] and by_external["view"]["title"]["text"] == "Again"
    # the new view object has no external_id: the view is no longer found by the old one
    assert (await error_of(client.views_update(external_id="edit-1", view=modal())))["error"] == "not_found"


# -- submissions and the app's answer -------------------------------------------------------------------


async def test_a_submission_reaches_a_bolt_view_listener_and_an_empty_ack_closes_it(
    slack: SlackEmulator, connect: Connect, alice: str, approvals: str, card: str
) -> None:
    app, bodies = answering(slack, [{}])
    two_inputs = modal(blocks=[*modal()["blocks"], with_input(block_id="note")["blocks"][1]])

    async def on_click(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=two_inputs)

    app.action("approval_approve")(on_click)  # "Edit" on a card: the click's trigger_id opens the modal
    await connect(app)
    mark = slack.mark()
    await slack.click(alice, approvals, card, "approval_approve")
    view_id = (await slack.next_call("views.open", since=mark, where=lambda c: c.ok)).response["view"]["id"]

    envelope = await slack.submit_view(alice, view_id, {"draft": {"text": "Draft v2"}})
    body = await next_item(bodies)
    await slack.wait_ack(envelope)

    assert envelope.type == "interactive" and envelope.accepts_response_payload is True
    assert body["type"] == "view_submission" and body["api_app_id"] == slack.app_id
    assert body["user"] == {"id": alice, "username": "alice", "name": "alice", "team_id": slack.team_id}
    assert body["team"]["id"] == slack.team_id and body["response_urls"] == [] and body["enterprise"] is None
    view = body["view"]
    assert (view["id"], view["callback_id"], view["private_metadata"]) == (view_id, "edit_draft", "apr_7f3c")
    assert view["state"]["values"] == {
        "draft": {"text": {"type": "plain_text_input", "value": "Draft v2"}},
        "note": {"text": {"type": "plain_text_input", "value": "Draft v1"}},  # untouched: its initial value
    }
    record = slack.trigger(body["trigger_id"])
    assert record is not None and (record.source, record.view_id, record.user) == ("view_submission", view_id, alice)

    closed = slack.view(view_id)
    assert (closed.is_open, closed.closed_by, closed.errors, closed.shown_error) == (False, "submitted", {}, None)
    assert closed.value("draft") == "Draft v2" and slack.open_views(alice) == []
    with pytest.raises(ValueError, match="not the view"):
        await slack.submit_view(alice, view_id, {})


async def test_errors_keep_the_modal_open_until_a_valid_submission(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    errors = {"response_action": "errors", "errors": {"draft": "Say what changed"}}
    app, bodies = answering(slack, [errors, {}])
    await connect(app)
    view_id = await opened(client, trigger)

    await slack.wait_ack(await slack.submit_view(alice, view_id, {"draft": {"text": "x"}}))
    assert (await next_item(bodies))["view"]["state"]["values"]["draft"]["text"]["value"] == "x"
    shown = slack.view(view_id)
    assert (shown.is_open, shown.errors, shown.shown_error) == (True, {"draft": "Say what changed"}, None)
    assert slack.open_views(alice) == [shown]

    await slack.wait_ack(await slack.submit_view(alice, view_id))  # submitted again as it stands
    second = await next_item(bodies)
    assert second["view"]["state"]["values"]["draft"]["text"]["value"] == "x"  # what was typed stays
    assert slack.view(view_id).is_open is False


async def test_answers_slack_cannot_use_leave_the_modal_with_its_error(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    answers: list[dict[str, Any]] = [
        {"response_action": "errors", "errors": {"intro": "a section cannot show an error"}},
        {"response_action": "update", "view": modal(title=plain("t" * 25))},
        {"response_action": "sideways"},
        {"text": "a message is no answer to a submission"},
    ]
    app, _ = answering(slack, list(answers))
    await connect(app)
    view_id = await opened(client, trigger)

    for _ in answers:
        await slack.wait_ack(await slack.submit_view(alice, view_id))
    view = slack.view(view_id)
    assert (view.is_open, view.errors, view.shown_error, view.title) == (True, {}, TROUBLE, "Edit the draft")
    assert len(view.refusals) == 4
    assert "not an input block" in view.refusals[0] and "/view/title/text" in view.refusals[1]


async def test_update_replaces_the_view_and_keeps_what_was_typed(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    replacement = modal(title=plain("Check the edit"), private_metadata="apr_7f3c:2")
    app, bodies = answering(slack, [{"response_action": "update", "view": replacement}, {}])
    await connect(app)
    view_id = await opened(client, trigger)
    before = slack.view(view_id).body["hash"]

    await slack.wait_ack(await slack.submit_view(alice, view_id, {"draft": {"text": "Draft v2"}}))
    view = slack.view(view_id)
    assert (view.is_open, view.title, view.private_metadata) == (True, "Check the edit", "apr_7f3c:2")
    assert view.body["hash"] != before and slack.open_views(alice) == [view]
    assert view.value("draft") == "Draft v2"  # same block_id and action_id: the entry is preserved

    await slack.wait_ack(await slack.submit_view(alice, view_id))
    await next_item(bodies)
    assert (await next_item(bodies))["view"]["private_metadata"] == "apr_7f3c:2"
    assert slack.open_views(alice) == []


async def test_push_stacks_up_to_three_views_and_clear_closes_them_all(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    push = {"response_action": "push", "view": modal(title=plain("Are you sure?"))}
    app, _ = answering(
        slack, [copy.deepcopy(push), copy.deepcopy(push), copy.deepcopy(push), {}, {"response_action": "clear"}]
    )
    await connect(app)
    root = await opened(client, trigger)

    await slack.wait_ack(await slack.submit_view(alice, root))
    second = slack.open_views(alice)[-1]
    assert (second.body["root_view_id"], second.body["previous_view_id"]) == (root, root)
    await slack.wait_ack(await slack.submit_view(alice, second.id))
    third = slack.open_views(alice)[-1]
    with pytest.raises(ValueError, match="not the view"):
        await slack.submit_view(alice, root)  # only the top view can be submitted
    await slack.wait_ack(await slack.submit_view(alice, third.id))  # a fourth view: refused
    assert len(slack.open_views(alice)) == 3 and "push_limit_reached" in third.refusals[0]

    await slack.wait_ack(await slack.submit_view(alice, third.id))  # empty ack: back to the second view
    assert slack.open_views(alice) == [slack.view(root), second]
    await slack.wait_ack(await slack.submit_view(alice, second.id))  # clear: every view closes
    assert slack.open_views(alice) == [] and {slack.view(v).closed_by for v in (root, second.id)} == {"submitted"}


async def test_a_client_refuses_what_slack_would_not_submit(
    slack: SlackEmulator, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    limits = with_input(element={"min_length": 3, "max_length": 10, "multiline": False, "initial_value": "abc"})
    view_id = await opened(client, trigger, limits)
    for typed, problem in [
        ("", "required"),
        ("ab", "at least 3"),
        ("x" * 11, "at most 10"),
        ("two\nlines", "single-line"),
    ]:
        with pytest.raises(ValueError, match=problem):
            await slack.submit_view(alice, view_id, {"draft": {"text": typed}})
    with pytest.raises(ValueError, match="no input"):
        await slack.submit_view(alice, view_id, {"intro": {"text": "hi"}})
    with pytest.raises(ValueError, match="no input"):
        await slack.submit_view(alice, view_id, {"draft": {"other_action": "hi"}})
    with pytest.raises(ValueError, match="not the view"):
        await slack.submit_view(slack.add_user("bob"), view_id, {})
    with pytest.raises(LookupError):
        await slack.submit_view(alice, "V0NOPE0000", {})
    no_submit = await opened(client, trigger, modal(submit=None, blocks=[{"type": "divider"}]))
    with pytest.raises(ValueError, match="no submit button"):
        await slack.submit_view(alice, no_submit, {})
    assert slack.envelopes == []


async def test_an_unacked_submission_leaves_the_modal_open_with_an_error(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    await connect(new_app(slack))  # no view listener: Bolt never acks
    view_id = await opened(client, trigger)
    envelope = await slack.submit_view(alice, view_id)
    slack.advance(3)
    failure = await slack.wait_for(lambda: next((f for f in slack.failures if f.envelope == envelope), None))
    assert failure.outcome == "shown_warning"  # the card's echo event also goes unacked: that one is retried
    view = slack.view(view_id)
    assert (view.is_open, view.shown_error, view.refusals) == (True, TROUBLE, ["no ack within 3 s"])


async def test_cancel_closes_the_view_and_tells_the_app_if_asked(
    slack: SlackEmulator, connect: Connect, client: AsyncWebClient, alice: str, trigger: Any
) -> None:
    app = new_app(slack)
    closed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @app.view_closed("edit_draft")
    async def on_closed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await closed.put(body)

    await connect(app)
    quiet = await opened(client, trigger)
    assert await slack.close_view(alice, quiet) is None and slack.view(quiet).closed_by == "cancelled"

    told = await opened(client, trigger, modal(notify_on_close=True))
    envelope = await slack.close_view(alice, told)
    body = await next_item(closed)
    assert envelope is not None and body["type"] == "view_closed" and body["view"]["id"] == told
    assert body["is_cleared"] is False and slack.open_views(alice) == []
