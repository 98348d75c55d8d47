"""The demo's scripted writer: loaded as a component config, its revisions apply the person's feedback."""

from __future__ import annotations

from autogen_core.models import AssistantMessage, ChatCompletionClient, LLMMessage, SystemMessage, UserMessage

from workflows.demo_models import demo_config

TASK = "Draft the announcement email for release 2.4"


def conversation(*feedback: str, task: str = TASK) -> list[LLMMessage]:
    messages: list[LLMMessage] = [SystemMessage(content="You draft."), UserMessage(content=task, source="user")]
    for said in feedback:
        messages.append(AssistantMessage(content="(the previous draft)", source="drafter"))
        messages.append(UserMessage(content=f"REVISE: {said}", source="approver"))
    return messages


async def answer(role: str, messages: list[LLMMessage]) -> str:
    client = ChatCompletionClient.load_component(demo_config()[role])
    try:
        result = await client.create(messages)
    finally:
        await client.close()
    assert isinstance(result.content, str)
    return result.content


async def test_a_revision_applies_the_feedback() -> None:
    first = await answer("default", conversation())
    shorter_bullets = await answer("default", conversation("Shorter, and use bullet points"))

    assert "Release 2.4 ships today" in first and "- " not in first
    assert "- Please upgrade by Friday" in shorter_bullets
    assert "Reply here with any questions" in first and "Reply here with any questions" not in shorter_bullets


async def test_feedback_it_has_no_rule_for_is_added_and_rules_stack() -> None:
    text = await answer("default", conversation("make it more formal", "mention the bus leaves at 9"))

    assert "Dear colleagues," in text and "Kind regards," in text
    assert "Mention the bus leaves at 9." in text


async def test_the_subject_comes_from_the_task() -> None:
    text = await answer("default", conversation(task="Write a note to the team about the offsite"))

    assert text.startswith("Subject: Note to the team about the offsite\n")


async def test_the_answer_depends_only_on_the_conversation() -> None:
    messages = conversation("use bullet points")
    client = ChatCompletionClient.load_component(demo_config()["default"])
    answers = [(await client.create(messages)).content for _ in range(3)]
    await client.close()

    assert answers[0] == answers[1] == answers[2]  # a resumed run, or another replica, gets the same draft


async def test_a_plan_gains_a_step_for_the_feedback() -> None:
    first = await answer("plan.planner", conversation())
    revised = await answer("plan.planner", conversation("also email the count to finance"))

    assert first.count("\n") == 2
    assert revised.endswith("4. Also email the count to finance (added after your review).")
