"""``approval-bot doctor`` as a user runs it: a process against the strict emulator and a real redis-server.

One test per misconfiguration it catches: its FAIL line names it, and the exit status is 1."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.sandbox import SlackEmulator
from bot.slack.scopes import REQUIRED_SCOPES
from tests.model_server import ModelServer, component_config
from tests.redis_server import RedisServer, free_port

LAST = ("model", "policy")
TOKENS = ("xoxb-test-bot", "xapp-test-app", "xoxp-test-user", "xapp-revoked", "sk-scripted")


@pytest.fixture
def durable_redis(make_redis_server: Callable[..., RedisServer]) -> str:
    """A Redis with appendonly yes (the session's ``redis_server`` runs without it)."""
    return make_redis_server(appendonly=True).url


@pytest.fixture
async def approvals(slack: SlackEmulator) -> AsyncIterator[str]:
    yield slack.add_channel("approvals", members=[slack.bot_user_id])


async def doctor(
    slack: SlackEmulator,
    redis_url: str,
    tmp_path: Path,
    *args: str,
    model_url: str | None = None,
    model_name: str = "scripted-doctor",
    **extra: str,
) -> tuple[int, dict[str, str], str]:
    """Exit status, each check's line by its name, and the whole output. Without ``model_url`` the model config
    names an endpoint where nothing listens."""
    model = tmp_path / "model.json"
    config = component_config(model_url or f"http://127.0.0.1:{free_port()}/v1", model_name)
    config["config"] |= {"max_retries": 0, "timeout": 5}
    model.write_text(json.dumps(config))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "OPENAI_", "APPROV", "REDIS_", "MODEL_", "POLICY_")) and "PROXY" not in k.upper()
    }
    env |= {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "REDIS_URL": redis_url,
        "APPROVALS_CHANNEL": "#approvals",
        "MODEL_CONFIG": str(model),
        **extra,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "doctor", *args, env=env, cwd=tmp_path, stdout=-1, stderr=-1
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    output = out.decode() + err.decode()
    for token in TOKENS:
        assert token not in output
    assert "Traceback" not in output
    lines = {}
    for line in out.decode().splitlines():
        verdict, _, rest = line.partition(" ")
        name, _, _ = rest.partition(": ")
        lines[name] = line
        assert verdict in ("PASS", "FAIL") and (verdict == "PASS") == (" — fix: " not in line), line
    return process.returncode or 0, lines, output


def failed(lines: dict[str, str], name: str) -> list[str]:
    """The names of the failed checks; ``name`` must be among them."""
    names = [key for key, line in lines.items() if line.startswith("FAIL")]
    assert name in names, lines
    return names


async def test_everything_set_up_passes(
    slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path
) -> None:
    code, lines, output = await doctor(slack, durable_redis, tmp_path)
    assert code == 0, output
    assert list(lines) == [
        "bot token",
        "approvals channel",
        "app token",
        "redis",
        "redis persistence",
        "model",
        "policy",
    ]
    assert all(line.startswith("PASS") for line in lines.values())
    assert f"all {len(REQUIRED_SCOPES)} scopes" in lines["bot token"] and approvals in lines["approvals channel"]
    assert "the built-in policy" in lines["policy"]


async def test_missing_scopes_are_named_with_the_reinstall_fix(durable_redis: str, tmp_path: Path) -> None:
    async with SlackEmulator(scopes=REQUIRED_SCOPES - {"usergroups:read", "im:write"}) as slack:
        slack.add_channel("approvals", members=[slack.bot_user_id])
        code, lines, _ = await doctor(slack, durable_redis, tmp_path)
    assert code == 1 and failed(lines, "bot token") == ["bot token"]
    assert "lacks the scopes im:write, usergroups:read" in lines["bot token"] and "reinstall" in lines["bot token"]


async def test_a_user_token_is_the_wrong_kind(durable_redis: str, tmp_path: Path) -> None:
    async with SlackEmulator(scopes=REQUIRED_SCOPES, bot_token="xoxp-test-user") as slack:
        code, lines, _ = await doctor(slack, durable_redis, tmp_path)
    assert code == 1 and "bot token" in failed(lines, "bot token")
    assert "SLACK_BOT_TOKEN looks like a user token" in lines["bot token"] and "xoxb-" in lines["bot token"]


async def test_a_rejected_app_token(slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path) -> None:
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, SLACK_APP_TOKEN="xapp-revoked")
    assert code == 1 and failed(lines, "app token") == ["app token"]
    assert "apps.connections.open refused SLACK_APP_TOKEN (invalid_auth)" in lines["app token"]
    assert "Socket Mode" in lines["app token"]


async def test_an_unknown_channel(slack: SlackEmulator, durable_redis: str, tmp_path: Path) -> None:
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, APPROVALS_CHANNEL="#no-such-channel")
    assert code == 1 and failed(lines, "approvals channel") == ["approvals channel"]
    assert "#no-such-channel was not found" in lines["approvals channel"]


async def test_a_private_channel_the_bot_is_not_in(slack: SlackEmulator, durable_redis: str, tmp_path: Path) -> None:
    secret = slack.add_channel("secret", private=True)
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, APPROVALS_CHANNEL=secret)
    assert code == 1 and failed(lines, "approvals channel") == ["approvals channel"]
    assert "/invite @approval-bot" in lines["approvals channel"]


async def test_a_public_channel_the_bot_is_not_in_yet_passes(
    slack: SlackEmulator, durable_redis: str, tmp_path: Path
) -> None:
    slack.add_channel("approvals")
    code, lines, output = await doctor(slack, durable_redis, tmp_path)
    assert code == 0, output
    assert "is public; the bot is not in it yet and joins it at start" in lines["approvals channel"]


async def test_redis_without_appendonly(slack: SlackEmulator, approvals: str, redis_url: str, tmp_path: Path) -> None:
    code, lines, _ = await doctor(slack, redis_url, tmp_path)
    assert code == 1 and failed(lines, "redis persistence") == ["redis persistence"]
    assert "appendonly is no" in lines["redis persistence"] and "appendonly yes" in lines["redis persistence"]
    assert lines["redis"].startswith("PASS redis: Redis ")


async def test_a_redis_that_refuses_config_says_persistence_was_not_checked(
    slack: SlackEmulator, approvals: str, make_redis_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = make_redis_server(appendonly=True)  # like a managed Redis: this user may not run CONFIG
    with server.client() as client:
        client.acl_setuser(
            "app", enabled=True, passwords=["+s3cret"], keys=["*"], channels=["*"], commands=["+@all", "-config"]
        )
    url = f"redis://app:s3cret@127.0.0.1:{server.port}/0"
    code, lines, _ = await doctor(slack, url, tmp_path)
    assert code == 1 and failed(lines, "redis persistence") == ["redis persistence"]
    assert "could not be checked" in lines["redis persistence"] and lines["redis"].startswith("PASS")


async def test_a_redis_nothing_listens_on(slack: SlackEmulator, approvals: str, tmp_path: Path) -> None:
    code, lines, output = await doctor(slack, f"redis://:hunter2@127.0.0.1:{free_port()}/0", tmp_path)
    assert code == 1 and failed(lines, "redis") == ["redis", "redis persistence"]
    assert "cannot reach Redis" in lines["redis"] and "check REDIS_URL" in lines["redis"]
    assert "hunter2" not in output


async def test_a_bad_policy_file(slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("rules:\n  - name: deletes\n    tool: 'delete_*'\n    action: ask-two\n")
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, POLICY_FILE=str(policy))
    assert code == 1 and failed(lines, "policy") == ["policy"]
    assert "rule 1 (deletes): 'action' must be one of" in lines["policy"]


async def test_a_bad_model_config(slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path) -> None:
    model = tmp_path / "broken.json"
    model.write_text(json.dumps({"provider": "no.such.Client", "config": {}}))
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, MODEL_CONFIG=str(model))
    assert code == 1 and failed(lines, "model") == ["model"]
    assert "the model config cannot be loaded" in lines["model"]


async def test_no_model_at_all(slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path) -> None:
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, MODEL_CONFIG="")
    assert code == 1 and failed(lines, "model") == ["model"]
    assert "no model configured" in lines["model"] and "OPENAI_API_KEY" in lines["model"]


async def test_a_model_call_that_fails(
    slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path
) -> None:
    code, lines, _ = await doctor(slack, durable_redis, tmp_path, "--model-call")
    assert code == 1 and failed(lines, "model") == ["model"]
    assert "loads, but a 1-token call failed" in lines["model"]


async def test_a_bad_setting_is_one_line_and_exit_2(slack: SlackEmulator, durable_redis: str, tmp_path: Path) -> None:
    code, lines, output = await doctor(slack, durable_redis, tmp_path, APPROVAL_TIMEOUT="-5")
    assert (code, lines) == (2, {}) and output.strip().startswith("approval-bot: APPROVAL_TIMEOUT")


async def test_a_model_call_that_answers(
    slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path
) -> None:
    async with ModelServer() as model:
        name = model.add_answers(["OK"])
        code, lines, output = await doctor(
            slack, durable_redis, tmp_path, "--model-call", model_url=model.base_url, model_name=name
        )
    assert code == 0, output
    assert "answered a 1-token call" in lines["model"]


async def test_http_mode_checks_the_signing_secret_instead_of_the_app_token(
    slack: SlackEmulator, approvals: str, durable_redis: str, tmp_path: Path
) -> None:
    http = {"HTTP_PORT": "3000", "SLACK_APP_TOKEN": ""}
    code, lines, output = await doctor(slack, durable_redis, tmp_path, **http, SLACK_SIGNING_SECRET="0123456789abcdef")
    assert code == 0 and "app token" not in lines and "0123456789abcdef" not in output
    assert lines["signing secret"] == "PASS signing secret: SLACK_SIGNING_SECRET is set (HTTP mode on port 3000)"

    code, lines, _ = await doctor(slack, durable_redis, tmp_path, **http)
    assert code == 1 and failed(lines, "signing secret") == ["signing secret"]
    assert "Signing Secret" in lines["signing secret"]
