"""Modals: the views open for each person, views.open / views.update, and what a submission and the app's
answer to it do to them.

A person has at most one modal, a stack of up to 3 views of which the top one is visible (views.push errors,
``push_limit_reached``: "Currently the limit is 3"). How the app's ack of a ``view_submission`` decides
("Responding to view submissions", docs.slack.dev/surfaces/modals): no payload closes the submitted view;
``response_action`` ``errors`` keeps it open with a message under each named input block, ``clear`` closes
every view, ``update`` replaces the view, ``push`` stacks a new one. An answer Slack cannot apply (errors for a
block that is not an input block, an invalid view, a fourth view) leaves the modal as it was, showing "We had
some trouble connecting. Try again?" (what people report seeing: slackapi/bolt-js#554, slack-go/slack#1013).

No transport here: ``emulator`` delivers the payloads these methods build and routes the acks back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.blockparts import TEXT_INPUT_MAX, slack_length
from bot.sandbox.clock import Clock
from bot.sandbox.methods_base import Answer, ApiError, Params, json_param, text_param
from bot.sandbox.recorder import Recorder
from bot.sandbox.triggers import Triggers
from bot.sandbox.views import check_view, kept_state, new_hash, stored, text_inputs, view_problems
from bot.sandbox.workspace import Workspace

MAX_STACK = 3
TROUBLE = "We had some trouble connecting. Try again?"


@dataclass(eq=False, slots=True)
class ModalView:
    """One view of a person's modal. ``body`` is the view object as Slack returns it (``state`` included);
    ``errors`` are the messages shown under input blocks; ``shown_error`` is Slack's own error at the top of
    the modal when it could not use the app's answer (``refusals`` says why, one entry per answer)."""

    id: str
    user: str
    body: dict[str, Any]
    is_open: bool = True
    closed_by: str | None = None  # submitted, cleared, cancelled (by the person), replaced (a new modal)
    errors: dict[str, str] = field(default_factory=dict)
    shown_error: str | None = None
    refusals: list[str] = field(default_factory=list)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.body["blocks"])

    @property
    def state(self) -> dict[str, Any]:
        """``state.values``: block_id -> action_id -> ``{"type": ..., "value": ...}``."""
        return dict(self.body["state"]["values"])

    @property
    def callback_id(self) -> str:
        return str(self.body["callback_id"])

    @property
    def private_metadata(self) -> str:
        return str(self.body["private_metadata"])

    @property
    def title(self) -> str:
        return str(self.body["title"]["text"])

    def value(self, block_id: str) -> str | None:
        """The text of the (single) input element of ``block_id`` as last submitted, else None."""
        entry = self.body["state"]["values"].get(block_id, {})
        return next((v.get("value") for v in entry.values()), None)


class Modals:
    def __init__(self, ws: Workspace, recorder: Recorder, clock: Clock) -> None:
        self.ws = ws
        self.recorder = recorder
        self.clock = clock
        self.triggers = Triggers(clock)
        self.views: dict[str, ModalView] = {}
        self._stacks: dict[str, list[ModalView]] = {}

    def table(self) -> dict[str, Callable[[Params], Answer]]:
        return {"views.open": self.open, "views.update": self.update}

    def stack(self, user_id: str) -> list[ModalView]:
        """The views of ``user_id``'s modal, root first; the last one is visible."""
        return list(self._stacks.get(user_id, ()))

    # -- Web API ---------------------------------------------------------------------------------------

    def open(self, params: Params) -> Answer:
        """docs.slack.dev/reference/methods/views.open. The trigger is checked first ("Typical error response,
        before getting to any possible validation errors": ``invalid `trigger_id```) and is spent by any call
        that names a usable one, even if the view is then refused (whether Slack spends it is not documented:
        the strict reading). The modal opens for the person the trigger was issued to, replacing theirs."""
        ref = text_param(params, "trigger_id")
        if ref is None:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]})
        raw = self._view_param(params)
        trigger = self.triggers.exchange(ref, "views.open")
        check_view(raw)
        self._external_id_free(raw.get("external_id"), None)
        for old in self.stack(trigger.user):
            self._close(old, "replaced")
        return {"view": self._push(raw, trigger.user, None).body}

    def update(self, params: Params) -> Answer:
        """docs.slack.dev/reference/methods/views.update: exactly one of ``view_id`` / ``external_id``;
        ``not_found`` for an unknown or closed view, ``hash_conflict`` for a stale ``hash``."""
        view_id, external_id = text_param(params, "view_id"), text_param(params, "external_id")
        if (view_id is None) == (external_id is None):
            messages = ["exactly one of `view_id` or `external_id` is required"]
            raise ApiError("invalid_arguments", response_metadata={"messages": messages})
        raw = self._view_param(params)
        target = self.views.get(view_id) if view_id else self._with_external_id(str(external_id))
        if target is None or not target.is_open:
            raise ApiError("not_found")
        expected = text_param(params, "hash")
        if expected is not None and expected != target.body["hash"]:
            raise ApiError("hash_conflict")
        check_view(raw)
        self._external_id_free(raw.get("external_id"), target)
        self._replace(target, raw)
        return {"view": target.body}

    @staticmethod
    def _view_param(params: Params) -> Any:
        raw = json_param(params, "view", "invalid_arguments")
        if raw is None:
            messages = ["[ERROR] missing required field: view"]
            raise ApiError("invalid_arguments", response_metadata={"messages": messages})
        return raw

    # -- what people do --------------------------------------------------------------------------------

    def submission(self, user_id: str, view_id: str, typed: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        """The ``view_submission`` payload of ``user_id`` pressing Submit after typing ``typed``
        (block_id -> action_id -> text; inputs not named keep what they show). Raises ``ValueError`` for what
        a Slack client would not let them do: submit a view that is not their visible one or has no submit
        button, leave a required input empty, type past ``min_length`` / ``max_length``."""
        view = self._visible(user_id, view_id)
        if view.body["submit"] is None:
            raise ValueError(f"view {view_id} has no submit button")
        inputs = text_inputs(view.body)
        for block_id, by_action in typed.items():
            element = inputs[block_id][1] if block_id in inputs else None
            if element is None or set(by_action) - {element["action_id"]}:
                raise ValueError(f"view {view_id} has no input {block_id!r} / {sorted(by_action)}")
        before = view.body["state"]["values"]
        values: dict[str, Any] = {}
        for block_id, (block, element) in inputs.items():
            if element["type"] != "plain_text_input":
                raise ValueError(f"the emulator types only into plain_text_input, not {element['type']} ({block_id})")
            action_id = element["action_id"]
            if action_id in typed.get(block_id, {}):
                text: str | None = typed[block_id][action_id]
            elif block_id in before:  # what they typed before (an answer with errors, an update keeping it)
                text = before[block_id].get(action_id, {}).get("value")
            else:
                text = element.get("initial_value")
            if text is not None and not isinstance(text, str):
                raise ValueError(f"what is typed into {block_id!r} must be a str, not {type(text).__name__}")
            _check_typed(block_id, block, element, text)
            values[block_id] = {action_id: {"type": "plain_text_input", "value": text or None}}
        view.body["state"]["values"] = values
        trigger = payloads.trigger_id()
        self.triggers.record(trigger, user_id, "view_submission", view_id)
        self.recorder.changed()
        return payloads.view_submission(self.ws, self.ws.users[user_id], copy.deepcopy(view.body), trigger)

    def dismissal(self, user_id: str, view_id: str) -> dict[str, Any] | None:
        """``user_id`` presses Cancel (or the close x) on their visible view: it closes (the whole modal with
        ``clear_on_close``); the ``view_closed`` payload to send if the view has ``notify_on_close``."""
        view = self._visible(user_id, view_id)
        cleared = bool(view.body["clear_on_close"])
        for closing in self.stack(user_id) if cleared else [view]:
            self._close(closing, "cancelled")
        if not view.body["notify_on_close"]:
            return None
        return payloads.view_closed(self.ws, self.ws.users[user_id], copy.deepcopy(view.body), cleared=cleared)

    # -- the app's answer ------------------------------------------------------------------------------

    def answer(self, submitted: dict[str, Any], ack: dict[str, Any]) -> None:
        """Apply the app's ack of a ``view_submission`` payload to the submitted view."""
        view = self.views.get(str(submitted.get("view", {}).get("id")))
        if view is None or not view.is_open:
            return  # closed meanwhile (a new modal replaced it): nothing left to answer
        body = ack.get("payload")
        if not body:  # "respond with an empty HTTP 200": the submitted view closes
            self._close(view, "submitted")
            return
        problem = self._apply(view, body) if isinstance(body, dict) else "the response is not a JSON object"
        if problem is not None:
            self.refuse(view, problem)
        else:
            view.shown_error = None
        self.recorder.changed()

    def refuse(self, view: ModalView, why: str) -> None:
        """Slack could not use an answer (or none came in time): the modal stays, with its generic error."""
        view.refusals.append(why)
        view.shown_error = TROUBLE
        self.recorder.changed()

    def _apply(self, view: ModalView, body: dict[str, Any]) -> str | None:
        """Do what ``response_action`` says; the reason Slack would refuse it, else None."""
        action = body.get("response_action")
        if action == "errors":
            return self._errors(view, body.get("errors"))
        if action == "clear":
            for closing in self.stack(view.user):
                self._close(closing, "submitted")
            return None
        if action not in ("update", "push"):
            return f"response_action {action!r} is not one of errors, update, push, clear"
        new = body.get("view")
        if not isinstance(new, dict):
            return f"response_action {action} needs a view object"
        problems = view_problems(new)
        if problems:
            return "invalid view: " + "; ".join(problems)
        try:
            self._external_id_free(new.get("external_id"), view if action == "update" else None)
        except ApiError as exc:
            return exc.error
        if action == "update":
            self._replace(view, new)
        elif len(self.stack(view.user)) >= MAX_STACK:
            return f"push_limit_reached: a modal holds at most {MAX_STACK} views"
        else:
            self._push(new, view.user, view)
        return None

    @staticmethod
    def _errors(view: ModalView, errors: Any) -> str | None:
        """``errors``: input block_id -> message; errors only show under input blocks (docs.slack.dev/surfaces/
        modals, "Displaying errors": "the block_id of the erroneous input block"; for other blocks Slack shows
        its generic error, bolt-js#1267)."""
        if not isinstance(errors, dict) or not errors:
            return "response_action errors needs a non-empty errors object"
        inputs = text_inputs(view.body)
        for block_id, message in errors.items():
            if block_id not in inputs:
                return f"errors names {block_id!r}, which is not an input block of view {view.id}"
            if not isinstance(message, str) or not message:
                return f"the error for {block_id!r} is not a non-empty string"
        view.errors = dict(errors)
        return None

    # -- internals -------------------------------------------------------------------------------------

    def _visible(self, user_id: str, view_id: str) -> ModalView:
        view = self.views.get(view_id)
        if view is None:
            raise LookupError(f"no view {view_id}")
        stack = self._stacks.get(user_id, [])
        if view.user != user_id or not view.is_open or not stack or stack[-1] is not view:
            raise ValueError(f"view {view_id} is not the view {user_id} sees (open: {view.is_open})")
        return view

    def _push(self, raw: dict[str, Any], user_id: str, previous: ModalView | None) -> ModalView:
        view_id = self.ws.new_id("V")
        root = previous.body["root_view_id"] if previous is not None else view_id
        body = self._stored(raw, view_id, root, previous.id if previous is not None else None, {})
        view = ModalView(view_id, user_id, body)
        self.views[view_id] = view
        self._stacks.setdefault(user_id, []).append(view)
        self.recorder.changed()
        return view

    def _replace(self, view: ModalView, raw: dict[str, Any]) -> None:
        old = view.body
        body = self._stored(raw, view.id, old["root_view_id"], old["previous_view_id"], {})
        body["state"]["values"] = kept_state(old["state"]["values"], body)
        view.body, view.errors = body, {}
        self.recorder.changed()

    def _stored(
        self, raw: dict[str, Any], view_id: str, root: str, previous: str | None, state: dict[str, Any]
    ) -> dict[str, Any]:
        return stored(
            raw,
            view_id=view_id,
            team_id=self.ws.team_id,
            app_id=self.ws.app_id,
            bot_id=self.ws.bot.bot_id,
            root_view_id=root,
            previous_view_id=previous,
            state=state,
            hash_=new_hash(self.clock.now()),
        )

    def _close(self, view: ModalView, how: str) -> None:
        view.is_open, view.closed_by = False, how
        stack = self._stacks.get(view.user, [])
        if view in stack:
            stack.remove(view)
        self.recorder.changed()

    def _with_external_id(self, external_id: str) -> ModalView | None:
        return next((v for v in self.views.values() if v.is_open and v.body["external_id"] == external_id), None)

    def _external_id_free(self, external_id: Any, replacing: ModalView | None) -> None:
        """``external_id`` "must be unique for all views on a team" (views.open). It stays taken after its
        modal went away other than by Submit or Cancel (slackapi/slack-api-specs#52: a modal gone on a client
        reload keeps it), so here by a new modal replacing it."""
        if not external_id:
            return
        for view in self.views.values():
            if view is replacing or view.body["external_id"] != external_id:
                continue
            if view.is_open or view.closed_by == "replaced":
                raise ApiError("duplicate_external_id")


def _check_typed(block_id: str, block: dict[str, Any], element: dict[str, Any], text: str | None) -> None:
    """What a Slack client refuses to submit: an empty required input, a newline in a single-line one, text
    shorter than ``min_length`` or longer than ``max_length`` (plain-text-input-element; 3000 at most)."""
    if not text:
        if not block.get("optional", False):
            raise ValueError(f"{block_id!r} is required: Slack would not submit the view empty")
        return
    if "\n" in text and not element.get("multiline", False):
        raise ValueError(f"{block_id!r} is a single-line input: nobody can type a newline into it")
    length = slack_length(text)
    low, high = element.get("min_length"), element.get("max_length", TEXT_INPUT_MAX)
    if low is not None and length < low:
        raise ValueError(f"{block_id!r} needs at least {low} characters, not {length}")
    if length > high:
        raise ValueError(f"{block_id!r} takes at most {high} characters, not {length}")
