"""``approval-bot run`` with bad configuration: one clear line, exit status 2, no traceback, no hang."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.sandbox import SlackEmulator
from tests.botprocess import BotProcess
from tests.e2e.conftest import People
from tests.redis_server import free_port


async def failed_start(slack: SlackEmulator, redis_url: str, workdir: Path, **env: str) -> tuple[int, str]:
    bot = await BotProcess(slack, redis_url, workdir, answers=["draft"], **env).start()
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), 30)
    return code, bot.output()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is missing"),
        ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-revoked"}, "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)"),
        ({"SLACK_APP_TOKEN": "xapp-revoked"}, "SLACK_APP_TOKEN was rejected by Slack (invalid_auth)"),
        ({"APPROVALS_CHANNEL": "#no-such-channel"}, "APPROVALS_CHANNEL #no-such-channel was not found"),
        ({"APPROVALS_CHANNEL": "#secret"}, "invite the bot if it is private"),
        ({"APPROVALS_CHANNEL": "{secret_id}"}, "if it is a private channel, invite the bot there"),
        ({"APPROVALS_CHANNEL": "#old-approvals"}, "APPROVALS_CHANNEL #old-approvals is archived"),
        ({"APPROVALS_CHANNEL": "{archived_id}"}, "is archived: unarchive it"),
        ({"APPROVAL_TIMEOUT": "-5"}, "APPROVAL_TIMEOUT"),
        ({"SLACK_API_URL": "http://127.0.0.1:{closed}/api/"}, "cannot reach Slack"),
        ({"REDIS_URL": "redis://127.0.0.1:{closed}/0"}, "cannot reach Redis"),
        ({"POLICY_FILE": "{policy}"}, "rule 1 (deletes): 'action' must be one of auto, ask, ask_two, deny"),
        ({"POLICY_FILE": "{tmp}/no-such-policy.yml"}, "cannot be read"),
    ],
)
async def test_bad_configuration_fails_with_one_clear_line(
    slack: SlackEmulator, people: People, redis_url: str, tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    secret = slack.add_channel("secret", private=True, members=[people.alice])
    archived = slack.add_channel("old-approvals", members=[people.alice, slack.bot_user_id])
    slack.archive(archived)
    policy = tmp_path / "policy.yml"
    policy.write_text("rules:\n  - name: deletes\n    tool: 'delete_*'\n    action: ask-two\n")
    known = {
        "{closed}": str(free_port()),
        "{secret_id}": secret,
        "{archived_id}": archived,
        "{policy}": str(policy),
        "{tmp}": str(tmp_path),
    }
    for placeholder, value in known.items():
        env = {key: raw.replace(placeholder, value) for key, raw in env.items()}

    code, output = await failed_start(slack, redis_url, tmp_path, **env)

    last = output.strip().splitlines()[-1]
    assert code == 2, output
    assert "Traceback" not in output
    assert last.startswith("approval-bot: ") and expected in last
    for secret in ("xoxb-test-bot", "xapp-test-app", "xoxb-revoked", "xapp-revoked"):
        assert secret not in output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON or YAML"),
        (json.dumps({"config": {}}), "neither an AutoGen component config"),
        (json.dumps({"provider": "no.such.Client", "config": {}}), "cannot be loaded"),
    ],
)
async def test_unloadable_model_config_fails_with_one_clear_line(
    slack: SlackEmulator, people: People, redis_url: str, tmp_path: Path, content: str, expected: str
) -> None:
    model = tmp_path / "model.json"
    model.write_text(content)
    workdir = tmp_path / "bot"
    workdir.mkdir()

    bot = BotProcess(slack, redis_url, workdir, answers=["draft"])
    bot.env["MODEL_CONFIG"] = str(model)
    await bot.start()
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), 30)

    assert code == 2 and "Traceback" not in bot.output()
    assert expected in bot.output().strip().splitlines()[-1]
