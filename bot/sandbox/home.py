"""App Home: the Home tab view each person sees, views.publish, and what opening it or clicking in it sends.

Sources:
- views.publish (docs.slack.dev/reference/methods/views.publish): arguments ``user_id``, ``view`` and an optional
  ``hash`` ("A string that represents view state to protect against possible race conditions"); no scopes (the
  method's "scopes" are empty); Tier 4. Errors used here: ``invalid_arguments`` ("Typical error response, before
  getting to any possible validation errors": ``invalid `user_id```), ``hash_conflict`` ("the provided ``hash``
  doesn't match the current stored value"), ``not_enabled`` ("a ``home`` view is published but the Home tab
  isn't enabled for the app"), ``duplicate_external_id``, ``view_too_large`` ("greater than 250kb"). The answer
  is the stored view: ``id``, ``type: home``, ``close`` / ``submit`` null, blocks with block ids, ``state``,
  ``hash``, ``root_view_id`` (its own id), ``previous_view_id`` null, ``app_id``, ``external_id``, ``bot_id``.
- Home tab view object (docs.slack.dev/reference/views/home-tab-views): ``type`` ``home`` and ``blocks`` (max
  100) required; ``private_metadata`` (3000), ``callback_id`` (255), ``external_id`` (unique per team);
  "Preserving input entry in views" (same block_id and action_id keep what was entered).
- app_home_opened (docs.slack.dev/reference/events/app_home_opened): ``user``, ``channel`` (the app's DM with
  the person), ``tab`` (``home`` or ``messages``), ``event_ts``; "If they opened a Home tab and that tab has had a
  view published at least once before, a ``view`` field will also be included" with its current state.
- block_actions from a view (docs.slack.dev/reference/interaction-payloads/block_actions-payload): ``container``
  ``{"type": "view", "view_id": ...}`` and the source ``view`` (with its ``state``) instead of ``message``; no
  ``channel``, and ``response_url`` only "in response to interactions" in messages: a Home tab has no
  conversation to answer in, so none is sent (the strict reading: an app must answer through views.publish or a
  DM).

No transport here: the emulator delivers the payloads these methods build.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.blockkit import Problems, check_blocks, find_action
from bot.sandbox.clock import Clock
from bot.sandbox.methods_base import Answer, ApiError, Params, json_param, text_param
from bot.sandbox.modals import Modals
from bot.sandbox.recorder import Recorder
from bot.sandbox.records import Activity
from bot.sandbox.views import (
    CALLBACK_ID_MAX,
    EXTERNAL_ID_MAX,
    MAX_BLOCKS,
    MAX_BYTES,
    MODAL_BLOCK_TYPES,
    PRIVATE_METADATA_MAX,
    kept_state,
    new_hash,
    normalised_blocks,
)
from bot.sandbox.workspace import Workspace

TABS = ("home", "messages")  # app_home_opened: tab "home" | "messages"
# Home tabs hold the blocks modals do ("Available in surfaces": file and markdown blocks are for messages only)
HOME_BLOCK_TYPES = MODAL_BLOCK_TYPES


class HomeViews:
    """The published Home view of each person (user id -> the view object as Slack returns it)."""

    def __init__(self, ws: Workspace, recorder: Recorder, clock: Clock, modals: Modals) -> None:
        self.ws = ws
        self.recorder = recorder
        self.clock = clock
        self.modals = modals
        self.enabled = True
        """Whether the app's Home tab is on (``features.app_home.home_tab_enabled`` of its manifest)."""
        self.views: dict[str, dict[str, Any]] = {}

    def table(self) -> dict[str, Callable[[Params], Answer]]:
        return {"views.publish": self.publish}

    # -- Web API ---------------------------------------------------------------------------------------

    def publish(self, params: Params) -> Answer:
        user_id = text_param(params, "user_id")
        if user_id is None or user_id not in self.ws.users or user_id == self.ws.bot.id:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
        raw = json_param(params, "view", "invalid_arguments")
        if raw is None:
            messages = ["[ERROR] missing required field: view"]
            raise ApiError("invalid_arguments", response_metadata={"messages": messages})
        if len(json.dumps(raw).encode()) > MAX_BYTES:
            raise ApiError("view_too_large")
        problems = home_problems(raw)
        if problems:
            raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        if not self.enabled:
            raise ApiError("not_enabled")
        old = self.views.get(user_id)
        expected = text_param(params, "hash")
        # strict: a hash given when nothing was published matches no stored value either
        if expected is not None and (old is None or expected != old["hash"]):
            raise ApiError("hash_conflict")
        self._external_id_free(raw.get("external_id"), user_id)
        body = self._stored(raw, old)
        self.views[user_id] = body
        self.recorder.emit(self._activity(user_id, body))
        return {"view": copy.deepcopy(body)}

    # -- what people do --------------------------------------------------------------------------------

    def opened_event(self, user_id: str, tab: str) -> dict[str, Any]:
        """The ``app_home_opened`` event of ``user_id`` opening the Home (or Messages) tab of the app."""
        if tab not in TABS:
            raise ValueError(f"App Home has the tabs {TABS}, not {tab!r}")
        user = self.ws.users[user_id]
        channel, _ = self.ws.open_im(user)  # the Messages tab is the app's DM with the person
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user.id,
            "channel": channel.id,
            "tab": tab,
            "event_ts": self.ws.next_ts(),
        }
        view = self.views.get(user_id)
        if tab == "home" and view is not None:
            event["view"] = copy.deepcopy(view)
        return event

    def click(self, user_id: str, action_id: str, value: str | None, block_id: str | None) -> dict[str, Any]:
        """The ``block_actions`` payload of ``user_id`` clicking the element ``action_id`` (in ``block_id``, or
        the one carrying ``value`` when several share the action id) of the Home view they see. ``LookupError``
        when they have no Home view or it has no such element."""
        view = self.views.get(user_id)
        if view is None:
            raise LookupError(f"{user_id} has no published Home view to click in")
        blocks = [b for b in view["blocks"] if block_id is None or b.get("block_id") == block_id]
        found = find_action(blocks, action_id, value)
        if found is None:
            where = f" in block {block_id!r}" if block_id is not None else ""
            raise LookupError(f"the Home view of {user_id} has no element with action_id {action_id!r}{where}")
        user = self.ws.users[user_id]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": self.ws.team_id},
            "api_app_id": self.ws.app_id,
            "token": payloads.VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": payloads.trigger_id(),
            "team": {"id": self.ws.team_id, "domain": self.ws.team_domain},
            "enterprise": payloads.enterprise(self.ws),
            "is_enterprise_install": False,
            "view": copy.deepcopy(view),
            "actions": [payloads.action(self.ws, found[0], found[1], value)],
        }
        self.modals.triggers.record(payload["trigger_id"], user.id, "block_actions")
        return payload

    # -- internals -------------------------------------------------------------------------------------

    def _stored(self, raw: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """The view object as views.publish returns it; a person's Home keeps its view id across publishes."""
        view_id = old["id"] if old is not None else self.ws.new_id("V")
        blocks = normalised_blocks(raw["blocks"])
        body: dict[str, Any] = {
            "id": view_id,
            "team_id": self.ws.team_id,
            "type": "home",
            "close": None,
            "submit": None,
            "blocks": blocks,
            "private_metadata": raw.get("private_metadata", ""),
            "callback_id": raw.get("callback_id", ""),
            "state": {"values": {}},
            "hash": new_hash(self.clock.now()),
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.ws.app_id,
            "external_id": raw.get("external_id", ""),
            "app_installed_team_id": self.ws.team_id,
            "bot_id": self.ws.bot.bot_id,
        }
        if old is not None:
            body["state"]["values"] = kept_state(old["state"]["values"], body)
        return body

    def _external_id_free(self, external_id: Any, user_id: str) -> None:
        """``external_id`` "must be unique for all views on a per-team basis" (home-tab-views): no other
        person's Home and no modal may hold it."""
        if not external_id:
            return
        taken = any(v["external_id"] == external_id for u, v in self.views.items() if u != user_id)
        taken = taken or any(v.body["external_id"] == external_id for v in self.modals.views.values())
        if taken:
            raise ApiError("duplicate_external_id")

    def _activity(self, user_id: str, body: dict[str, Any]) -> Activity:
        bot = self.ws.bot
        return Activity(
            kind="home",
            source="views.publish",
            channel="",
            channel_name="App Home",
            user=bot.id,
            user_name=bot.name,
            text="",
            ts=str(body["hash"]),
            blocks=copy.deepcopy(body["blocks"]),
            to_user=user_id,
        )


def home_problems(view: Any) -> list[str]:
    """Slack-worded problems with a Home tab view object (empty when Slack would accept it)."""
    problems = Problems()
    if not isinstance(view, dict):
        problems.add("must be an object", "/view")
        return problems.errors
    for key in ("type", "blocks"):  # home-tab-views: the two required fields
        if key not in view:
            problems.add(f"missing required field: {key}", "/view")
    if "type" in view and view["type"] != "home":
        problems.add("must be one of: home", "/view/type")  # views.publish publishes Home tabs only
    for key, limit in (
        ("private_metadata", PRIVATE_METADATA_MAX),
        ("callback_id", CALLBACK_ID_MAX),
        ("external_id", EXTERNAL_ID_MAX),
    ):
        problems.length(view.get(key), f"/view/{key}", limit)
    blocks = view.get("blocks")
    if "blocks" in view:
        found = check_blocks(blocks, at="/view/blocks", limit=MAX_BLOCKS, types=HOME_BLOCK_TYPES)
        problems.errors.extend(found.errors)
        if isinstance(blocks, list) and not blocks:
            # slack-sdk's View validator: "views must contain between 1 and 100 blocks"
            problems.add("must provide at least 1 items", "/view/blocks")
    for key in ("submit", "close"):
        if view.get(key) is not None:
            # slack-sdk's View validator: "home view cannot have submit and close"
            problems.add(f"{key} is not allowed in a home view", f"/view/{key}")
    return problems.errors
