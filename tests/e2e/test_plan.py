"""The plan workflow end to end: the real bot process, the emulator, a real Redis and the scripted model.

The plan is approved, then a bash block that looks for the bot's secrets (its environment, ``/proc/<bot>/environ``
and the bot's ``.env`` through ``/proc/<bot>/cwd``) is approved and run; the next card shows what it printed, the
implementer reads it, and the requester is told how the run ended. None of it holds a secret.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import post_prompt, report_to, revise_in_thread, start_task, texts
from tests.model_server import Message, ModelRequest, ModelServer, Reply, Script, answers
from workflows.plan import IMPLEMENTER_SYSTEM_MESSAGE, PLAN_HEADER, PLANNER_SYSTEM_MESSAGE

DOTENV_SECRET = "xoxb-fake-dotenv-secret-in-the-bots-directory"
PLAN = "1. Show what environment code gets.\n2. Check the bot's secrets are out of reach."
LOOK_FOR_SECRETS = (
    "```bash\n"
    'echo "parent=$PPID uid=$(id -u) cwd=$PWD"\n'
    "env | sort\n"
    "cat /proc/$PPID/environ >/dev/null 2>&1 && echo 'environ: READ' || echo 'environ: denied'\n"
    "cat /proc/$PPID/cwd/.env >/dev/null 2>&1 && echo 'dotenv: READ' || echo 'dotenv: denied'\n"
    "```"
)
SECOND = "```python\nprint('second block')\n```"
SUMMARY = "Both blocks ran; the code saw only PATH, HOME and LANG. DONE"


def by_role(planner: list[Reply], implementer: list[Reply]) -> Script:
    """Each agent's conversation gets its own replies (both roles ask the one configured model)."""
    scripts = {PLANNER_SYSTEM_MESSAGE: answers(planner), IMPLEMENTER_SYSTEM_MESSAGE: answers(implementer)}

    def reply(messages: list[Message]) -> Reply:
        return scripts[str(messages[0].get("content"))](messages)

    return reply


def implementer_requests(model_server: ModelServer, model: str) -> list[ModelRequest]:
    return [r for r in model_server.asked(model) if r.messages[0]["content"] == IMPLEMENTER_SYSTEM_MESSAGE]


async def next_card(slack: SlackEmulator, people: People, after_click: tuple[str, str]):
    """Click Approve (as Bob) on the card ``after_click`` names and return the card that follows."""
    channel, ts = after_click
    mark = slack.mark()
    await slack.click(people.bob, channel, ts, blocks.ACTION_APPROVE)
    message = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert message is not None
    return message


async def test_plan_then_an_approved_bash_block_runs_without_the_bots_secrets(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer
) -> None:
    bot = await start_bot(answers=["unused"])
    model_server.add(bot.model_name, by_role([PLAN], [LOOK_FOR_SECRETS, SECOND, SUMMARY]))
    await asyncio.to_thread(Path(bot.dir, ".env").write_text, f"SLACK_BOT_TOKEN={DOTENV_SECRET}\n")
    secrets = [slack.bot_token, slack.app_token, DOTENV_SECRET, "sk-scripted-not-a-key"]

    plan_card = await start_task(slack, people, "plan: check what code can see")
    shown = texts(plan_card.blocks)
    assert PLAN_HEADER.split("?")[0] in shown and "Show what environment code gets" in shown

    code_card = await next_card(slack, people, (people.approvals, plan_card.ts))
    shown = texts(code_card.blocks)
    assert "Run this code?" in shown and "Language: bash" in shown and "env | sort" in shown
    assert "fresh throwaway directory" in shown and "none of the bot" in shown

    second_card = await next_card(slack, people, (people.approvals, code_card.ts))
    shown = texts(second_card.blocks)
    assert "print(&#39;second block&#39;)" in shown or "print('second block')" in shown
    assert "The previous block" in shown and "Exit code 0." in shown  # the first block's output, for people
    assert bot.process is not None and f"parent={bot.process.pid}" in shown  # it looked at the bot itself
    assert "HOME=/tmp/approval-bot-code-" in shown and "LANG=C.UTF-8" in shown
    assert "environ: denied" in shown and "dotenv: denied" in shown
    assert [secret for secret in secrets if secret in shown] == []
    assert "SLACK_" not in shown and "REDIS_URL" not in shown and "MODEL_CONFIG" not in shown

    await slack.click(people.bob, people.approvals, second_card.ts, blocks.ACTION_APPROVE)
    report = await report_to(slack, people.alice, "finished")
    assert "Both blocks ran" in report.text

    implementer = implementer_requests(model_server, bot.model_name)
    heard = "\n".join(str(m.get("content")) for m in implementer[-1].messages)
    assert "second block" in heard and "environ: denied" in heard  # both outputs reached the implementer
    assert [secret for secret in secrets if secret in heard] == []


async def test_a_cancelled_code_block_ends_the_run_and_the_requester_is_told(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer
) -> None:
    bot = await start_bot(answers=["unused"])
    model_server.add(bot.model_name, by_role([PLAN], ["```bash\necho should-not-run\n```", SUMMARY]))

    plan_card = await start_task(slack, people, "plan: try something")
    code_card = await next_card(slack, people, (people.approvals, plan_card.ts))
    await slack.click(people.bob, people.approvals, code_card.ts, blocks.ACTION_CANCEL)

    report = await report_to(slack, people.alice, "cancelled")
    assert "cancelled" in report.text
    assert len(implementer_requests(model_server, bot.model_name)) == 1  # asked once for the block; never told it ran


async def test_a_revised_plan_is_proposed_again_with_the_feedback_and_a_cancel_ends_it(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer
) -> None:
    bot = await start_bot(answers=["unused"])
    revised_plan = "1. Add the health check.\n2. Add a rollback step."
    model_server.add(bot.model_name, by_role([PLAN, revised_plan], [SUMMARY]))
    plan_card = await start_task(slack, people, "plan: add a health check")

    mark = slack.mark()
    await revise_in_thread(slack, people, plan_card.ts, "add a rollback step")
    second = slack.message(people.approvals, (await post_prompt(slack, people, mark)).response["ts"])
    assert second is not None and "Add a rollback step" in texts(second.blocks)
    await slack.click(people.bob, people.approvals, second.ts, blocks.ACTION_CANCEL)
    report = await report_to(slack, people.alice, "cancelled")

    assert "cancelled" in report.text
    planner = [r for r in model_server.asked(bot.model_name) if r.messages[0]["content"] == PLANNER_SYSTEM_MESSAGE]
    assert "add a rollback step" in "\n".join(str(m.get("content")) for m in planner[-1].messages)
    assert implementer_requests(model_server, bot.model_name) == []  # nothing was built from an unapproved plan


async def test_a_plan_nobody_approves_expires_and_nothing_is_built(
    slack: SlackEmulator, people: People, start_bot, model_server: ModelServer
) -> None:
    bot = await start_bot(answers=["unused"], APPROVAL_TIMEOUT="1")
    model_server.add(bot.model_name, by_role([PLAN], [LOOK_FOR_SECRETS, SUMMARY]))

    await start_task(slack, people, "plan: add a health check")
    report = await report_to(slack, people.alice, "expired")

    assert "expired" in report.text and implementer_requests(model_server, bot.model_name) == []
