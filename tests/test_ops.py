"""The ops workflow with a real AutoGen AssistantAgent, a replayed model and a real SQLite file: reads run at once,
changes wait for a person, and what the person said is what the agent reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from workflows import Verdict
from workflows.ops import OpsWorkflow
from workflows.ops_db import SAMPLE_CUSTOMERS, OpsDatabase
from workflows.types import Ask, edited

TOOLS_MODEL = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": "unknown",
    "structured_output": False,
}


def calls(*called: tuple[str, dict[str, object]]) -> CreateResult:
    content = [
        FunctionCall(id=f"call_{i}", name=name, arguments=json.dumps(args)) for i, (name, args) in enumerate(called)
    ]
    return CreateResult(finish_reason="function_calls", content=content, usage=RequestUsage(0, 0), cached=False)


def ops(tmp_path: Path, *answers: str | CreateResult) -> OpsWorkflow:
    return OpsWorkflow(lambda: ReplayChatCompletionClient(list(answers), model_info=TOOLS_MODEL), tmp_path / "ops.db")  # type: ignore[arg-type]


class Human:
    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked: list[str] = []

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        self.asked.append(prompt)
        return self.replies.pop(0)


def outbox(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT to_addr, subject FROM outbox").fetchall()


async def test_every_call_is_asked_about_and_the_answer_is_the_result(tmp_path: Path) -> None:
    human = Human("APPROVE")  # no policy at this tier: reads are asked too (the bot's policy runs them at once)
    workflow = ops(tmp_path, calls(("find_customers", {"status": "inactive"})), "Two customers are inactive.")

    result = await workflow.run("Who is inactive?", human)

    assert result.verdict is Verdict.DONE and result.output == "Two customers are inactive."
    assert [asked.splitlines()[0] for asked in human.asked] == ["Run the tool `find_customers`?"]
    with sqlite3.connect(tmp_path / "ops.db") as db:  # created and seeded on first use
        assert db.execute("SELECT count(*) FROM customers").fetchone() == (len(SAMPLE_CUSTOMERS),)


async def test_an_email_is_sent_only_once_approved_with_exactly_the_arguments_shown(tmp_path: Path) -> None:
    email = {"to": "ada@example.com", "subject": "We miss you <!channel>", "body": "Come back!"}
    human = Human("APPROVE")
    workflow = ops(tmp_path, calls(("send_email", email)), "Sent the email to Ada.")

    result = await workflow.run("Email Ada", human)

    assert result.verdict is Verdict.DONE
    [asked] = human.asked
    assert "Run the tool `send_email`?" in asked and '"to": "ada@example.com"' in asked and "<!channel>" in asked
    assert outbox(tmp_path / "ops.db") == [("ada@example.com", "We miss you <!channel>")]


async def test_a_refused_call_does_not_run_and_the_agent_reads_why(tmp_path: Path) -> None:
    human = Human("CANCEL: not on a Friday", "REVISE: only customer 4")
    workflow = ops(
        tmp_path,
        calls(("delete_customers", {"ids": [3, 4]})),
        calls(("delete_customers", {"ids": [3, 4]})),
        "I did not delete anyone.",
    )

    result = await workflow.run("Delete the inactive customers", human)

    assert result.verdict is Verdict.DONE and len(human.asked) == 2
    with sqlite3.connect(tmp_path / "ops.db") as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone() == (len(SAMPLE_CUSTOMERS),)
    assert result.tool_results == (  # what the agent read as the two calls' results
        "Not run: delete_customers was refused (not on a Friday).",
        "Not run: the reviewer asked for a change instead of running delete_customers: only customer 4",
    )


async def test_a_write_disguised_as_a_read_fails_on_the_read_only_connection(tmp_path: Path) -> None:
    database = OpsDatabase(tmp_path / "ops.db")
    database.ensure()
    disguised = "WITH doomed AS (SELECT id FROM customers) DELETE FROM customers WHERE id IN doomed"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await database.run_sql(disguised)
    assert json.loads(await database.run_sql("SELECT count(*) AS n FROM customers")) == [{"n": len(SAMPLE_CUSTOMERS)}]
    assert await database.run_sql("DELETE FROM customers WHERE id = 3") == "1 rows changed"  # asked for, it runs


class Reviewer(Human):
    """A person who sees the calls of one turn together (the bot's input function does), deciding each."""

    def __init__(self, *batches: list[str]) -> None:
        super().__init__()
        self.batches = list(batches)
        self.seen: list[list[str]] = []

    async def ask_many(self, requests: Sequence[Ask], cancellation_token: CancellationToken | None) -> list[str]:
        self.seen.append([request.tool for request in requests])
        return self.batches.pop(0)


async def test_the_calls_of_one_turn_are_asked_together_and_decided_each(tmp_path: Path) -> None:
    reviewer = Reviewer(["APPROVE", "CANCEL: not Bob", "APPROVE"])
    workflow = ops(
        tmp_path,
        calls(
            ("send_email", {"to": "ada@example.com", "subject": "Hi Ada", "body": "."}),
            ("send_email", {"to": "bob@example.com", "subject": "Hi Bob", "body": "."}),
            ("not_a_tool", {}),  # never reaches a gate: AutoGen answers it with an error itself
            ("find_customers", {"status": "active"}),
        ),
        "Emailed Ada; Bob was refused.",
    )

    result = await workflow.run("Email Ada and Bob", reviewer)

    assert result.verdict is Verdict.DONE
    assert reviewer.seen == [["send_email", "send_email", "find_customers"]] and reviewer.asked == []
    assert outbox(tmp_path / "ops.db") == [("ada@example.com", "Hi Ada")]
    assert result.tool_results[1] == "Not run: send_email was refused (not Bob)."


class Meddler(Human):
    """Approves, after changing the arguments it was handed: what runs must still be what it was shown."""

    async def ask(self, request: Ask, cancellation_token: CancellationToken | None) -> str:
        self.asked.append(request.text)
        request.args["ids"].append(1)  # type: ignore[index]
        return self.replies.pop(0)


async def test_what_runs_is_exactly_what_was_shown_and_approved(tmp_path: Path) -> None:
    meddler = Meddler("APPROVE")
    workflow = ops(tmp_path, calls(("delete_customers", {"ids": [4]})), "Deleted customer 4.")

    await workflow.run("Delete customer 4", meddler)

    with sqlite3.connect(tmp_path / "ops.db") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM customers ORDER BY id")]
    assert 4 not in ids and 1 in ids
    assert '"4: Edsger Dijkstra"' in meddler.asked[0]  # the card says whom it deletes


class Racer(Human):
    """Approves each call, and while the first approval is on its way someone else deletes customer 3."""

    async def __call__(self, prompt: str, cancellation_token: CancellationToken | None = None) -> str:
        if not self.asked:
            with sqlite3.connect(self.path) as db:
                db.execute("DELETE FROM customers WHERE id = 3")
        return await super().__call__(prompt, cancellation_token)

    path = Path()


async def test_a_call_whose_preconditions_changed_after_approval_is_asked_again(tmp_path: Path) -> None:
    racer = Racer("APPROVE", "APPROVE")
    racer.path = tmp_path / "ops.db"
    OpsDatabase(racer.path).ensure()
    workflow = ops(tmp_path, calls(("delete_customers", {"ids": [3, 4]})), "Deleted.")

    result = await workflow.run("Delete the inactive customers", racer)

    assert len(racer.asked) == 2  # approved for Alan and Edsger; Alan was gone when it was about to run
    assert '"3: Alan Turing"' in racer.asked[0] and "Alan Turing" not in racer.asked[1]
    assert result.tool_results == ("deleted 1 customers",)


async def test_an_approval_with_edited_arguments_runs_the_edit_and_the_agent_reads_what_changed(
    tmp_path: Path,
) -> None:
    edited_email = json.dumps({"to": "ada@example.com", "subject": "Hello again", "body": "Come back!"})
    human = Human(edited("U0BOB45678", edited_email))
    email = {"to": "ada@example.com", "subject": "We miss you", "body": "Come back!"}
    workflow = ops(tmp_path, calls(("send_email", email)), "Sent.")

    result = await workflow.run("Email Ada", human)

    assert outbox(tmp_path / "ops.db") == [("ada@example.com", "Hello again")]  # the edit ran, not the original
    [told] = result.tool_results
    assert told.startswith("The reviewer (U0BOB45678) edited the arguments before approving") and "Hello again" in told
