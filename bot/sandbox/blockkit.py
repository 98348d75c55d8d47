"""The Block Kit rules Slack enforces on posted messages (a practical subset), and action lookup.

Errors use Slack's ``invalid_blocks`` wording: ``"<problem> [json-pointer:/blocks/0/text/text]"``.
"""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

MAX_BLOCKS = 50
BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text",
    "section", "video",
}  # fmt: skip
TEXT_TYPES = {"plain_text", "mrkdwn"}
BUTTON_STYLES = {"primary", "danger"}


class Problems:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, problem: str, pointer: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, limit: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
            self.add("must be a text object", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.add("must be plain_text", f"{pointer}/type")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.add("must be a non-empty string", f"{pointer}/text")
        elif len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", f"{pointer}/text")

    def length(self, value: Any, pointer: str, limit: int) -> None:
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            self.add(f"must be a string of at most {limit} characters", pointer)


def check_blocks(blocks: Any) -> list[str]:
    """Problems with a ``blocks`` array; empty when Slack would accept it."""
    problems = Problems()
    if not isinstance(blocks, list):
        problems.add("must be an array", "/blocks")
        return problems.errors
    if len(blocks) > MAX_BLOCKS:
        problems.add(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        pointer = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.add("unsupported block type", f"{pointer}/type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            problems.length(block_id, f"{pointer}/block_id", 255)
            if block_id in block_ids:
                problems.add("duplicate block_id", f"{pointer}/block_id")
            block_ids.add(block_id)
        _check_block(problems, block, pointer)
    return problems.errors


def _check_block(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    kind = block["type"]
    if kind == "section":
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
            _check_element(problems, block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        problems.text(block.get("text"), f"{pointer}/text", limit=150, plain_only=True)
    elif kind in ("actions", "context"):
        limit = 25 if kind == "actions" else 10
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > limit:
            problems.add(f"must have 1 to {limit} elements", f"{pointer}/elements")
            return
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            if kind == "actions":
                _check_element(problems, element, f"{pointer}/elements/{j}")
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if isinstance(action_id, str):
                    if action_id in action_ids:
                        problems.add("duplicate action_id", f"{pointer}/elements/{j}/action_id")
                    action_ids.add(action_id)
    elif kind == "markdown":
        problems.length(block.get("text"), f"{pointer}/text", 12000)


def _check_element(problems: Problems, element: Any, pointer: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        problems.add("must be a block element", pointer)
        return
    problems.length(element.get("action_id"), f"{pointer}/action_id", 255)
    if element["type"] == "button":
        problems.text(element.get("text"), f"{pointer}/text", limit=75, plain_only=True)
        problems.length(element.get("value"), f"{pointer}/value", 2000)
        problems.length(element.get("url"), f"{pointer}/url", 3000)
        if "style" in element and element["style"] not in BUTTON_STYLES:
            problems.add("must be one of primary, danger", f"{pointer}/style")


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy in which every block has a ``block_id``, generated as Slack does when missing."""
    out = copy.deepcopy(blocks)
    alphabet = string.ascii_letters + string.digits + "+/="
    for block in out:
        block.setdefault("block_id", "".join(secrets.choice(alphabet) for _ in range(5)))
    return out


def find_action(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]] | None:
    """``(block_id, element)`` of the interactive element with ``action_id``, in actions or accessories."""
    for block in blocks:
        elements = list(block.get("elements", ())) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None
