"""Block Kit's composition objects and elements, checked against Slack's documented limits.

Sources: docs.slack.dev/reference/block-kit/composition-objects/{text-object,confirmation-dialog-object,
option-object}, docs.slack.dev/reference/block-kit/block-elements/{button-element,image-element,
overflow-menu-element,select-menu-element,plain-text-input-element}, as quoted in node-slack-sdk
``packages/types/src/block-kit/{composition-objects,block-elements}.ts``; slack-sdk's validators
(``slack_sdk/models/blocks/*.py``) check only some of these, and only when the app builds blocks from its classes.

Lengths are counted in UTF-16 code units (``slack_length``): Slack's docs say "characters" without saying
which, and UTF-16 units are never fewer than code points, so this is the stricter reading.
"""

from __future__ import annotations

from typing import Any

TEXT_TYPES = {"plain_text", "mrkdwn"}
STYLES = {"primary", "danger"}
# elements that may sit in an actions block (docs.slack.dev/reference/block-kit/blocks/actions-block)
ACTION_ELEMENTS = {
    "button", "checkboxes", "datepicker", "datetimepicker", "multi_static_select", "multi_external_select",
    "multi_users_select", "multi_conversations_select", "multi_channels_select", "overflow", "radio_buttons",
    "static_select", "external_select", "users_select", "conversations_select", "channels_select",
    "timepicker", "workflow_button", "rich_text_input",
}  # fmt: skip
# a section accessory (docs.slack.dev/reference/block-kit/blocks/section-block, "accessory")
ACCESSORY_ELEMENTS = (ACTION_ELEMENTS - {"datetimepicker", "rich_text_input"}) | {"image"}
SELECTS = {e for e in ACTION_ELEMENTS if e.endswith("_select")}
# the element of an input block (docs.slack.dev/reference/block-kit/blocks/input-block, "element")
INPUT_ELEMENTS = (ACTION_ELEMENTS - {"button", "overflow", "workflow_button"}) | {
    "email_text_input", "file_input", "number_input", "plain_text_input", "url_text_input",
}  # fmt: skip
# plain-text-input-element: min_length "between 0 and 3000, inclusive", max_length "between 1 and 3000,
# inclusive". No input can hold more than 3000 characters, so an initial_value past that is refused too
# (an inference: the page gives initial_value no limit of its own).
TEXT_INPUT_MAX = 3000


def slack_length(text: str) -> int:
    """Length in UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


class Problems:
    """Collects Slack-worded problems, each with a JSON pointer, and the text a message carries."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.text_total = 0
        self.markdown_total = 0
        self.too_long = False

    def __bool__(self) -> bool:
        return bool(self.errors) or self.too_long

    def add(self, problem: str, pointer: str) -> None:
        self.errors.append(f"{problem} [json-pointer:{pointer}]")

    def length(self, value: Any, pointer: str, limit: int, *, required: bool = False) -> None:
        if value is None:
            if required:
                self.add("must be provided", pointer)
        elif not isinstance(value, str):
            self.add("must be a string", pointer)
        elif slack_length(value) > limit:
            self.add(f"must be less than {limit + 1} characters", pointer)

    def text(self, obj: Any, pointer: str, *, limit: int, plain_only: bool = False) -> None:
        """A text object: type, non-empty ``text`` within ``limit``, ``emoji`` only on plain_text."""
        if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
            self.add("must be a text object", pointer)
            return
        if plain_only and obj["type"] != "plain_text":
            self.add("must be plain_text", f"{pointer}/type")
        if (
            "emoji" in obj and obj["type"] != "plain_text"
        ):  # text-object: "emoji ... only usable when type is plain_text"
            self.add("emoji is only allowed on plain_text", f"{pointer}/emoji")
        if "verbatim" in obj and obj["type"] != "mrkdwn":
            self.add("verbatim is only allowed on mrkdwn", f"{pointer}/verbatim")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.add("must be a non-empty string", f"{pointer}/text")
            return
        if slack_length(value) > limit:
            self.add(f"must be less than {limit + 1} characters", f"{pointer}/text")
        self.text_total += slack_length(value)

    def confirm(self, obj: Any, pointer: str) -> None:
        """A confirmation dialog: title ≤100, text ≤300, confirm/deny ≤30 (plain_text), style."""
        if not isinstance(obj, dict):
            self.add("must be a confirm object", pointer)
            return
        for key, limit in (("title", 100), ("confirm", 30), ("deny", 30)):
            self.text(obj.get(key), f"{pointer}/{key}", limit=limit, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", limit=300)
        if "style" in obj and obj["style"] not in STYLES:
            self.add("must be one of primary, danger", f"{pointer}/style")

    def image(self, obj: dict[str, Any], pointer: str, *, alt_limit: int = 2000) -> None:
        """An image element or block: ``image_url`` (≤3000) or ``slack_file``, and ``alt_text``."""
        if "image_url" not in obj and "slack_file" not in obj:
            self.add("must provide image_url or slack_file", pointer)
        self.length(obj.get("image_url"), f"{pointer}/image_url", 3000)
        self.length(obj.get("alt_text"), f"{pointer}/alt_text", alt_limit, required=True)

    def element(self, element: Any, pointer: str, allowed: set[str]) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.add("must be a block element", pointer)
            return
        kind = element["type"]
        if kind not in allowed:
            self.add(f"element type {kind} is not allowed here", f"{pointer}/type")
            return
        self.length(element.get("action_id"), f"{pointer}/action_id", 255)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{pointer}/confirm")
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", limit=75, plain_only=True)
            self.length(element.get("value"), f"{pointer}/value", 2000)
            self.length(element.get("url"), f"{pointer}/url", 3000)
            self.length(element.get("accessibility_label"), f"{pointer}/accessibility_label", 75)
            if "style" in element and element["style"] not in STYLES:
                self.add("must be one of primary, danger", f"{pointer}/style")
        elif kind == "image":
            self.image(element, pointer)
        elif kind == "overflow":
            self.options(element.get("options"), f"{pointer}/options", low=2, high=5)
        elif kind in SELECTS and "options" in element:
            self.options(element.get("options"), f"{pointer}/options", low=1, high=100)
        elif kind == "plain_text_input":
            self.text_input(element, pointer)

    def text_input(self, element: dict[str, Any], pointer: str) -> None:
        """plain-text-input-element: ``initial_value`` a string within ``max_length`` (default 3000),
        ``multiline`` / ``focus_on_load`` booleans, ``min_length`` 0..3000, ``max_length`` 1..3000,
        ``placeholder`` plain_text ≤150."""
        for key in ("multiline", "focus_on_load"):
            self.boolean(element, key, pointer)
        low = self.integer(element, "min_length", pointer, 0, TEXT_INPUT_MAX)
        high = self.integer(element, "max_length", pointer, 1, TEXT_INPUT_MAX)
        if low is not None and high is not None and low > high:  # no text could satisfy both
            self.add("must be less than or equal to max_length", f"{pointer}/min_length")
        limit = high if high is not None else TEXT_INPUT_MAX
        self.length(element.get("initial_value"), f"{pointer}/initial_value", limit)
        if "placeholder" in element:
            self.text(element["placeholder"], f"{pointer}/placeholder", limit=150, plain_only=True)

    def boolean(self, obj: dict[str, Any], key: str, pointer: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            self.add("must be a boolean", f"{pointer}/{key}")

    def integer(self, obj: dict[str, Any], key: str, pointer: str, low: int, high: int) -> int | None:
        """``obj[key]`` when it is an integer within ``low..high``; a problem (and None) otherwise."""
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("must be an integer", f"{pointer}/{key}")
            return None
        if not low <= value <= high:
            self.add(f"must be between {low} and {high}", f"{pointer}/{key}")
            return None
        return value

    def options(self, options: Any, pointer: str, *, low: int, high: int) -> None:
        """Option objects: text plain_text ≤75, value ≤150 (option-object), ``low``..``high`` of them."""
        if not isinstance(options, list) or not low <= len(options) <= high:
            self.add(f"must have {low} to {high} items", pointer)
            return
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                self.add("must be an option object", f"{pointer}/{i}")
                continue
            self.text(option.get("text"), f"{pointer}/{i}/text", limit=75, plain_only=True)
            self.length(option.get("value"), f"{pointer}/{i}/value", 150, required=True)
