"""manifest.yml is a valid Slack app manifest that declares exactly what the code needs (least privilege), and
manifest.http.yml is the same app in HTTP mode."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.slack.http import PATH
from bot.slack.scopes import REQUIRED_BOT_EVENTS, REQUIRED_SCOPES, SLASH_COMMAND

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "shared" / "slack-manifest-schema"
SCHEMA_V1 = SCHEMA_DIR / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_matches_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA_V1.is_file():
        pytest.skip(
            f"Slack's manifest schema is not at {SCHEMA_V1} (it lives outside the project and is not copied in)"
        )
    schema = json.loads(SCHEMA_V1.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(manifest), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_rules_the_schema_states_but_does_not_enforce(manifest: dict[str, Any]) -> None:
    # The schema writes these as "regex" (not "pattern") or only in prose, so jsonschema skips them.
    assert manifest["_metadata"]["major_version"] == 1
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", manifest["display_information"]["background_color"])
    assert re.fullmatch(r"[a-z0-9._-]{1,80}", manifest["features"]["bot_user"]["display_name"])


def test_app_identity(manifest: dict[str, Any]) -> None:
    assert manifest["display_information"]["name"] == "Approval Bot"
    assert manifest["features"]["bot_user"] == {"display_name": "approval-bot", "always_online": True}


def test_app_home_has_the_home_tab_and_a_read_only_messages_tab(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"] == {
        "home_tab_enabled": True,  # views.publish answers not_enabled without it
        "messages_tab_enabled": True,  # where the bot's DMs to requesters and approvers are read
        "messages_tab_read_only_enabled": True,  # no listener for messages sent to the bot
    }
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_slash_command_for_socket_mode(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND
    assert command["usage_hint"] == "[workflow:] <task> | help"
    assert command["should_escape"] is False
    assert "url" not in command


def test_scopes_are_exactly_what_the_code_needs(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    declared = scopes["bot"]
    assert len(declared) == len(set(declared))
    assert set(declared) >= REQUIRED_SCOPES, f"missing: {sorted(REQUIRED_SCOPES - set(declared))}"
    assert set(declared) <= REQUIRED_SCOPES, f"not needed: {sorted(set(declared) - REQUIRED_SCOPES)}"
    assert set(scopes) == {"bot"}


def test_bot_events_are_exactly_what_the_code_listens_to(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]
    assert set(events["bot_events"]) >= REQUIRED_BOT_EVENTS
    assert set(events["bot_events"]) <= REQUIRED_BOT_EVENTS
    assert "request_url" not in events


def test_socket_mode_settings(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True}
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False


# --- manifest.http.yml: the same app in HTTP mode ------------------------------------------------------------------

HTTP_PATH = "/slack/events"  # Slack's convention, and Bolt's default


@pytest.fixture(scope="module")
def http_manifest() -> dict[str, Any]:
    return yaml.safe_load((REPO / "manifest.http.yml").read_text(encoding="utf-8"))


def test_http_manifest_matches_slacks_schema(http_manifest: dict[str, Any]) -> None:
    test_manifest_matches_slacks_schema(http_manifest)
    test_rules_the_schema_states_but_does_not_enforce(http_manifest)


def test_http_manifest_sends_everything_to_one_request_url(http_manifest: dict[str, Any]) -> None:
    settings = http_manifest["settings"]
    (command,) = http_manifest["features"]["slash_commands"]
    urls = {command["url"], settings["interactivity"]["request_url"], settings["event_subscriptions"]["request_url"]}
    (url,) = urls
    assert PATH == HTTP_PATH and url.startswith("https://") and url.endswith(HTTP_PATH)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False


def test_http_manifest_is_manifest_yml_but_for_the_request_urls(
    manifest: dict[str, Any], http_manifest: dict[str, Any]
) -> None:
    """Scopes, events, the command and the app's identity stay in step with manifest.yml."""
    socket = json.loads(json.dumps(manifest))
    http = json.loads(json.dumps(http_manifest))
    del http["features"]["slash_commands"][0]["url"]
    del http["settings"]["interactivity"]["request_url"]
    del http["settings"]["event_subscriptions"]["request_url"]
    socket["settings"].pop("socket_mode_enabled")
    http["settings"].pop("socket_mode_enabled")
    assert http == socket
