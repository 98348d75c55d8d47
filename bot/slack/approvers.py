"""Who may decide: the users and the members of the user groups named in ``APPROVERS``.

User groups (``S…``) are resolved with ``usergroups.users.list`` (scope ``usergroups:read``, Tier 2): their members
are cached for ``REFRESH_S`` and fetched again when they are older, or on a miss (someone not in the cache clicks:
they may have just joined the group), at most once per ``MISS_REFRESH_S`` so a non-approver clicking many times does
not exhaust the tier. When Slack cannot be asked, the last known members stand; nobody is let in on an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

REFRESH_S = 300.0
MISS_REFRESH_S = 10.0
LOOKUP_S = 2.0
"""How long a click waits for Slack's answer about a group: the click was acked already, the person is waiting."""


class Approvers:
    def __init__(
        self,
        client: AsyncWebClient,
        users: Iterable[str],
        groups: Iterable[str] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.users = frozenset(users)
        self.groups = tuple(sorted(groups))
        self._clock = clock
        self._members: dict[str, frozenset[str]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def anyone(self) -> bool:
        """No approvers configured: anyone in the approvals channel may decide."""
        return not self.users and not self.groups

    @property
    def named(self) -> list[str]:
        """The IDs to show (and mention) on a card: users, then groups."""
        return sorted(self.users) + list(self.groups)

    async def allows(self, user: str) -> bool:
        if self.anyone or user in self.users:
            return True
        if not self.groups:
            return False
        now = self._clock()
        if (
            self._fetched_at is None
            or now - self._fetched_at >= REFRESH_S
            or (user not in self._group_members() and now - self._fetched_at >= MISS_REFRESH_S)
        ):
            await self.refresh()
        return user in self._group_members()

    async def refresh(self) -> None:
        """Fetch every group's members (keeping the last known ones of a group Slack does not answer for)."""
        async with self._lock:
            for group in self.groups:
                try:
                    async with asyncio.timeout(LOOKUP_S):
                        answer = await self._client.usergroups_users_list(usergroup=group)
                except SlackApiError as exc:
                    log.warning("could not list the members of user group %s: %s", group, exc.response.get("error"))
                    continue
                except (TimeoutError, OSError) as exc:
                    log.warning("could not list the members of user group %s: %s", group, type(exc).__name__)
                    continue
                self._members[group] = frozenset(str(u) for u in answer.get("users") or [])
            self._fetched_at = self._clock()

    def _group_members(self) -> frozenset[str]:
        return frozenset().union(*self._members.values()) if self._members else frozenset()
