"""The rules Slack applies to a modal view (views.open, views.update, ``response_action`` update / push), the
view object as Slack stores and returns it, and the state a submission carries.

Pure functions, no state. Refusals use Slack's ``invalid_arguments`` wording, one message per problem with a
JSON pointer under ``/view``, e.g. ``"[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"``
(Slack's answer as apps that hit it quote it in their code and logs; ``missing required field: title`` is the
docs' example, docs.slack.dev/reference/methods/views.push). Where Slack's exact wording is not known the
message follows the same form. Sources, per field:
docs.slack.dev/reference/views/modal-views ("Modal view object fields"); blocks as for messages
(``blockkit``), at most 100 in a modal; input blocks and plain-text inputs in ``blockkit`` / ``blockparts``.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
from typing import Any

from bot.sandbox.blockkit import BLOCK_TYPES, Problems, check_blocks, with_block_ids
from bot.sandbox.methods_base import ApiError

MAX_BLOCKS = 100  # modal-views: "Max of 100 blocks"
TITLE_MAX = 24  # modal-views: title "a max length of 24 characters"
BUTTON_MAX = 24  # modal-views: close / submit "Max length of 24 characters"
PRIVATE_METADATA_MAX = 3000  # modal-views: private_metadata "Max length of 3000 characters"
CALLBACK_ID_MAX = 255  # modal-views: callback_id "Max length of 255 characters"
EXTERNAL_ID_MAX = 255  # views.open: external_id "has a max length of 255 characters"
MAX_BYTES = 250 * 1024  # views.open errors: view_too_large "if the provided view is greater than 250kb"
# Blocks a modal may hold: not the file block (its surfaces are messages only: the "Available in surfaces" table
# of api.slack.com/reference/block-kit/blocks), nor the markdown block, whose page speaks only of messages ("to
# ensure your message appears as intended", docs.slack.dev/reference/block-kit/blocks/markdown-block): the strict
# reading of a page that names no other surface.
MODAL_BLOCK_TYPES = BLOCK_TYPES - {"file", "markdown"}
ALPHABET = string.ascii_letters + string.digits


def check_view(view: Any) -> None:
    """Raise Slack's refusal of a modal view: ``view_too_large``, or ``invalid_arguments`` with messages."""
    if len(json.dumps(view).encode()) > MAX_BYTES:
        raise ApiError("view_too_large")
    problems = view_problems(view)
    if problems:
        raise ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def view_problems(view: Any) -> list[str]:
    """Slack-worded problems with a modal view object (empty when Slack would accept it)."""
    problems = Problems()
    if not isinstance(view, dict):
        problems.add("must be an object", "/view")
        return problems.errors
    for key in ("type", "title", "blocks"):  # modal-views: the three required fields
        if key not in view:
            problems.add(f"missing required field: {key}", "/view")
    if "type" in view and view["type"] != "modal":
        problems.add("must be one of: modal", "/view/type")
    if "title" in view:
        problems.text(view["title"], "/view/title", limit=TITLE_MAX, plain_only=True)
    for key in ("close", "submit"):
        if view.get(key) is not None:
            problems.text(view[key], f"/view/{key}", limit=BUTTON_MAX, plain_only=True)
    for key, limit in (
        ("private_metadata", PRIVATE_METADATA_MAX),
        ("callback_id", CALLBACK_ID_MAX),
        ("external_id", EXTERNAL_ID_MAX),
    ):
        problems.length(view.get(key), f"/view/{key}", limit)
    for key in ("clear_on_close", "notify_on_close"):
        problems.boolean(view, key, "/view")
    blocks = view.get("blocks")
    if "blocks" in view:
        found = check_blocks(blocks, at="/view/blocks", limit=MAX_BLOCKS, types=MODAL_BLOCK_TYPES)
        problems.errors.extend(found.errors)
        if isinstance(blocks, list) and not blocks:
            # slack-sdk's View validator: "views must contain between 1 and 100 blocks"
            problems.add("must provide at least 1 items", "/view/blocks")
    if isinstance(blocks, list) and view.get("submit") is None:
        for i, block in enumerate(blocks):
            if isinstance(block, dict) and block.get("type") == "input":
                # Slack's wording and pointer, from a real refusal of views.open
                problems.add("must define `submit` to use an `input` block in modals", f"/view/blocks/{i}/input")
                break
    return problems.errors


def stored(
    view: dict[str, Any],
    *,
    view_id: str,
    team_id: str,
    app_id: str,
    bot_id: str | None,
    root_view_id: str,
    previous_view_id: str | None,
    state: dict[str, Any],
    hash_: str,
) -> dict[str, Any]:
    """The view object as Slack returns it (views.open answer, ``view`` of a view_submission): every field
    present, defaults filled (docs.slack.dev/reference/methods/views.open example; a real view_submission
    payload has ``close: null``, input blocks with ``optional`` / ``dispatch_action`` false)."""
    return {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": normalised_blocks(view["blocks"]),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": copy.deepcopy(state)},
        "hash": hash_,
        "title": copy.deepcopy(view["title"]),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": copy.deepcopy(view.get("close")),
        "submit": copy.deepcopy(view.get("submit")),
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id,
        "app_id": app_id,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": team_id,
        "bot_id": bot_id,
    }


def normalised_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks with generated block ids, input blocks with their defaults and an ``action_id`` on every input
    element (generated when absent, like a block_id: bolt-python's view_submission fixture shows both,
    ``"block_id": "hspI"`` and ``"action_id": "maBWU"``, tests/scenario_tests_async/test_view_submission.py)."""
    out = with_block_ids(blocks)
    for block in out:
        if block.get("type") == "input":
            block.setdefault("optional", False)
            block.setdefault("dispatch_action", False)
            block["element"].setdefault("action_id", random_id(5))
    return out


def random_id(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def new_hash(now: float) -> str:
    """A view hash as Slack makes them, e.g. ``"1673733919.dxcfXsW2"``."""
    return f"{int(now)}.{random_id(8)}"


def text_inputs(body: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Input blocks of a stored view by block_id: ``(block, element)``."""
    return {b["block_id"]: (b, b["element"]) for b in body["blocks"] if b.get("type") == "input"}


def kept_state(old: dict[str, Any], new_body: dict[str, Any]) -> dict[str, Any]:
    """The entered values a replacing view keeps: those of input blocks with the same block_id and action_id
    (modal-views, "Preserving input entry in views")."""
    kept: dict[str, Any] = {}
    for block_id, (_, element) in text_inputs(new_body).items():
        action_id = element["action_id"]
        value = old.get(block_id, {}).get(action_id)
        if value is not None and value.get("type") == element.get("type"):
            kept[block_id] = {action_id: value}
    return kept
