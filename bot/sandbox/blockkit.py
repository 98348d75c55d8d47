"""The Block Kit rules Slack enforces on posted messages, and action lookup.

Errors use Slack's ``invalid_blocks`` wording: ``"<problem> [json-pointer:/blocks/0/text/text]"``. Sources:
docs.slack.dev/reference/block-kit/blocks (50 blocks per message; block_id ≤255, unique in a message) and
each block's page under docs.slack.dev/reference/block-kit/blocks/<type>-block; elements and composition
objects are in ``blockparts``. A modal's blocks go through the same checks under ``/view/blocks`` (``views``).
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Collection
from typing import Any

from bot.sandbox.blockparts import ACCESSORY_ELEMENTS, ACTION_ELEMENTS, INPUT_ELEMENTS, Problems, slack_length

__all__ = ["Problems", "check_blocks", "find_action", "slack_length", "with_block_ids"]

MAX_BLOCKS = 50  # messages; modals and Home tabs take 100
BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text",
    "section", "video",
}  # fmt: skip
# markdown block: "The cumulative limit for all markdown blocks in a single payload is 12,000 characters"
# (docs.slack.dev/reference/block-kit/blocks/markdown-block)
MARKDOWN_TOTAL = 12_000
# Total text of a message's blocks: Slack answers `msg_blocks_too_long` past an undocumented ceiling,
# measured between 13,172 and 13,297 characters (slackapi/bolt-js#2509, ../shared/slack-facts.md additions):
# refused above the last length known to pass.
BLOCKS_TEXT_TOTAL = 13_172


def check_blocks(
    blocks: Any, *, at: str = "/blocks", limit: int = MAX_BLOCKS, types: Collection[str] = BLOCK_TYPES
) -> Problems:
    """Problems with a ``blocks`` array (falsy when Slack would accept it), pointed to under ``at``.

    Defaults are a message's; a modal passes ``/view/blocks``, its 100 blocks and the block types it allows.
    """
    problems = Problems()
    if not isinstance(blocks, list):
        problems.add("must be an array", at)
        return problems
    if len(blocks) > limit:
        problems.add(f"no more than {limit} items allowed", at)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        pointer = f"{at}/{i}"
        if not isinstance(block, dict) or block.get("type") not in types:
            # Slack's wording, e.g. "[ERROR] unsupported type: data_visualization [json-pointer:/view/blocks/5/type]"
            kind = block.get("type") if isinstance(block, dict) else None
            problems.add(f"unsupported type: {kind}", f"{pointer}/type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            problems.length(block_id, f"{pointer}/block_id", 255)
            if block_id in block_ids:
                problems.add("duplicate block_id", f"{pointer}/block_id")
            block_ids.add(block_id)
        _check_block(problems, block, pointer)
    if problems.markdown_total > MARKDOWN_TOTAL:
        problems.add(f"markdown blocks must total less than {MARKDOWN_TOTAL + 1} characters", at)
    if problems.text_total > BLOCKS_TEXT_TOTAL:
        problems.too_long = True
    return problems


def _check_block(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    kind = block["type"]
    if kind == "section":
        _section(problems, block, pointer)
    elif kind == "header":
        problems.text(block.get("text"), f"{pointer}/text", limit=150, plain_only=True)
    elif kind == "actions":
        elements = _elements(problems, block, pointer, 25)
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            problems.element(element, f"{pointer}/elements/{j}", ACTION_ELEMENTS)
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in action_ids:
                    problems.add("duplicate action_id", f"{pointer}/elements/{j}/action_id")
                action_ids.add(action_id)
    elif kind == "context":
        # context-block: 1..10 elements, each an image element or a text object
        for j, element in enumerate(_elements(problems, block, pointer, 10)):
            where = f"{pointer}/elements/{j}"
            if isinstance(element, dict) and element.get("type") == "image":
                problems.image(element, where)
            else:
                problems.text(element, where, limit=3000)
    elif kind == "image":
        # image-block: image_url or slack_file, alt_text ≤2000, title plain_text ≤2000
        problems.image(block, pointer)
        if "title" in block:
            problems.text(block["title"], f"{pointer}/title", limit=2000, plain_only=True)
    elif kind == "markdown":
        text = block.get("text")
        problems.length(text, f"{pointer}/text", 12_000, required=True)
        if isinstance(text, str):
            problems.markdown_total += slack_length(text)
            problems.text_total += slack_length(text)
    elif kind == "input":
        _input(problems, block, pointer)
    elif kind == "rich_text" and not isinstance(block.get("elements"), list):
        problems.add("must provide elements", f"{pointer}/elements")


def _section(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    """section-block: text 1..3000, or up to 10 fields of ≤2000 each; an allowed accessory."""
    if "text" not in block and "fields" not in block:
        problems.add("must provide text or fields", pointer)
    if "text" in block:
        problems.text(block["text"], f"{pointer}/text", limit=3000)
    fields = block.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 10:
        problems.add("no more than 10 items allowed", f"{pointer}/fields")
    else:
        for j, item in enumerate(fields):
            problems.text(item, f"{pointer}/fields/{j}", limit=2000)
    if "accessory" in block:
        problems.element(block["accessory"], f"{pointer}/accessory", ACCESSORY_ELEMENTS)


def _input(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    """input-block: ``label`` plain_text ≤2000 and ``element`` (an input element) required; ``hint``
    plain_text ≤2000; ``optional`` and ``dispatch_action`` booleans."""
    for key in ("label", "element"):
        if key not in block:  # Slack's wording: "missing required field: name [json-pointer:/view/blocks/3/...]"
            problems.add(f"missing required field: {key}", pointer)
    if "label" in block:
        problems.text(block["label"], f"{pointer}/label", limit=2000, plain_only=True)
    if "hint" in block:
        problems.text(block["hint"], f"{pointer}/hint", limit=2000, plain_only=True)
    for key in ("optional", "dispatch_action"):
        problems.boolean(block, key, pointer)
    if "element" in block:
        problems.element(block["element"], f"{pointer}/element", INPUT_ELEMENTS)


def _elements(problems: Problems, block: dict[str, Any], pointer: str, limit: int) -> list[Any]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements or len(elements) > limit:
        problems.add(f"must have 1 to {limit} elements", f"{pointer}/elements")
        return []
    return elements


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy in which every block has a ``block_id``, generated as Slack does when missing."""
    out = copy.deepcopy(blocks)
    alphabet = string.ascii_letters + string.digits + "+/="
    for block in out:
        block.setdefault("block_id", "".join(secrets.choice(alphabet) for _ in range(5)))
    return out


def find_action(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """``(block_id, element)`` of the interactive element with ``action_id``, in actions or accessories. A
    message may hold several with one ``action_id`` (in different blocks, as Slack allows): with ``value``, the
    one carrying that value comes first (else the first, whose value a test may then forge)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        elements = list(block.get("elements", ())) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                found.append((str(block.get("block_id", "")), element))
    if not found:
        return None
    return next((item for item in found if value is not None and item[1].get("value") == value), found[0])
