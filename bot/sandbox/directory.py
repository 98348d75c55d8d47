"""users.info and usergroups.users.list: who people are and who is in a user group."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.sandbox.methods_base import Answer, ApiError, Params, text_param

if TYPE_CHECKING:
    from bot.sandbox.methods import Methods


class Directory:
    def __init__(self, methods: Methods) -> None:
        self.m = methods
        self.ws = methods.ws

    def table(self) -> dict[str, Callable[[Params], Answer]]:
        return {"users.info": self.users_info, "usergroups.users.list": self.usergroup_users}

    def users_info(self, params: Params) -> Answer:
        """docs.slack.dev/reference/methods/users.info (scope users:read, checked by the Web API)."""
        return {"user": self.ws.user_dict(self.m.user(params, "user"))}

    def usergroup_users(self, params: Params) -> Answer:
        """docs.slack.dev/reference/methods/usergroups.users.list: ``{"users": [...]}``; an unknown group is
        ``no_such_subteam`` (the error Slack's usergroups.* methods give for an unknown ``S…``)."""
        group = self.ws.usergroups.get(text_param(params, "usergroup") or "")
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group.users)}
