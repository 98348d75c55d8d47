"""``ops`` in the browser: a tool card under an ``ask_two`` rule needs two approvers; one approves, the page is
switched to the other person, who approves too, and the page shows both names and the run's result."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from bot.sandbox import SlackEmulator
from tests.browser.sandbox_page import TIMEOUT_MS, SandboxPage
from tests.e2e.conftest import People
from tests.e2e.test_tool_cards import customer_ids
from tests.model_server import tool_call

POLICY = "rules:\n  - {name: deletes, tool: 'delete_*', action: ask_two, risk: high}\n"
ANSWERS = [tool_call("delete_customers", ids=[2]), "Deleted customer 2 as asked."]


async def test_two_approvers_switching_users_approve_a_tool_call(
    sandbox: SandboxPage, slack: SlackEmulator, people: People, start_bot, tmp_path: Path
) -> None:
    carol = slack.add_user("carol")
    slack.join(people.approvals, carol)
    database, policy = tmp_path / "ops.sqlite3", tmp_path / "policy.yml"
    policy.write_text(POLICY)
    await start_bot(answers=ANSWERS, APPROVERS=f"{people.bob},{carol}", OPS_DB=str(database), POLICY_FILE=str(policy))
    await sandbox.open("alice")
    await sandbox.go("approvals")

    await sandbox.send("/agent-task ops: delete customer 2")
    card = await sandbox.pinned(sandbox.message_with("delete_customers"))
    await expect(card).to_contain_text("0 of 2 approvals", timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("high")  # the rule's risk

    await expect(sandbox.message_with("Started")).to_contain_text("Only visible to you")
    await sandbox.view_as("bob")
    await expect(sandbox.messages().filter(has_text="Started")).to_have_count(0)  # alice's, not bob's to see
    await sandbox.press(card, "Approve")
    await expect(card).to_contain_text("1 of 2 approvals: @bob", timeout=TIMEOUT_MS)
    assert 2 in customer_ids(database)  # one approval is not enough
    await sandbox.view_as("carol")
    await sandbox.press(card, "Approve")

    await expect(card).to_contain_text("Approved by @bob and @carol", timeout=TIMEOUT_MS)
    await sandbox.view_as("alice")
    report = sandbox.message_with("finished")
    await expect(report).to_contain_text("Deleted customer 2 as asked", timeout=TIMEOUT_MS)
    await expect(report).to_contain_text("Only visible to you")
    assert 2 not in customer_ids(database)
    assert sandbox.errors == []
