"""Who may decide, against the strict emulator: users, user groups read with usergroups.users.list, refreshes."""

from __future__ import annotations

from bot.sandbox import SlackEmulator
from bot.slack.app import web_client
from bot.slack.approvers import MISS_REFRESH_S, REFRESH_S, Approvers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_group_members_may_decide_and_a_new_member_is_found_on_a_miss(slack: SlackEmulator) -> None:
    alice, bob, carol = slack.add_user("alice"), slack.add_user("bob"), slack.add_user("carol")
    ops = slack.add_usergroup("ops", members=[bob])
    clock = Clock()
    approvers = Approvers(web_client(slack.bot_token, slack.api_url), [alice], [ops], clock=clock)

    assert await approvers.allows(alice) and await approvers.allows(bob)
    assert not await approvers.allows(carol)
    slack.add_usergroup_member(ops, carol)
    assert not await approvers.allows(carol)  # a miss right after a fetch does not ask Slack again...
    clock.now += MISS_REFRESH_S
    assert await approvers.allows(carol)  # ...but one a little later does

    asked = len(slack.calls_to("usergroups.users.list"))
    for _ in range(50):
        await approvers.allows(alice)  # users in APPROVERS never cost a call
        await approvers.allows(bob)  # known members neither, until the cache is old
    assert len(slack.calls_to("usergroups.users.list")) == asked
    clock.now += REFRESH_S
    await approvers.allows(bob)
    assert len(slack.calls_to("usergroups.users.list")) == asked + 1


async def test_an_unanswered_lookup_keeps_the_last_known_members_and_lets_nobody_new_in(
    slack: SlackEmulator,
) -> None:
    bob, mallory = slack.add_user("bob"), slack.add_user("mallory")
    ops = slack.add_usergroup("ops", members=[bob])
    clock = Clock()
    approvers = Approvers(web_client(slack.bot_token, slack.api_url), [], [ops], clock=clock)
    assert await approvers.allows(bob)

    clock.now += REFRESH_S
    slack.fail_next("usergroups.users.list", status=200, error="fatal_error", times=2)

    assert await approvers.allows(bob)
    assert not await approvers.allows(mallory)


async def test_no_approvers_means_anyone(slack: SlackEmulator) -> None:
    approvers = Approvers(web_client(slack.bot_token, slack.api_url), [], [])

    assert approvers.anyone and await approvers.allows("U0ANYONE01")
    assert slack.calls_to("usergroups.users.list") == []
