"""Slack's Web API rate limits as token buckets, and the rule table the bot and tests may read.

Source: docs.slack.dev/apis/web-api/rate-limits ("Tier 1: 1+ per minute ... Tier 4: 100+ per minute", limits
apply "per API method per workspace per app"; over a limit Slack answers HTTP 429 with ``Retry-After`` in
seconds and ``{"ok": false, "error": "ratelimited"}``). Each method's tier is the one on its
docs.slack.dev/reference/methods/<method> page, as tabulated by Slack's Java SDK
(slackapi/java-slack-sdk ``slack-api-client/src/main/java/com/slack/api/methods/MethodsRateLimits.java``
and ``MethodsRateLimitTier.java``, which also give the special tiers' numbers).

A bucket holds ``burst`` requests and refills at ``per_minute`` a minute. "N+ per minute" is evaluated by
Slack per minute, so a whole minute's allowance at once is within it: ``burst = per_minute`` unless noted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bot.sandbox.clock import Clock


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    per_minute: float
    burst: int


TIERS: dict[str, Tier] = {
    "tier1": Tier("Tier 1", 1, 1),  # "1+ per minute ... a small amount of burst behavior is tolerated"
    "tier2": Tier("Tier 2", 20, 20),  # "20+ per minute ... occasional bursts"
    "tier3": Tier("Tier 3", 50, 50),  # "50+ per minute ... sporadic bursts are welcome"
    "tier4": Tier("Tier 4", 100, 100),  # "100+ per minute ... generous burst behavior"
    # "hundreds of requests per minute" (auth.test, chat.getPermalink): the low end of "hundreds"
    "special_hundreds": Tier("Special (hundreds per minute)", 200, 200),
    # apps.connections.open is Tier 1 on its docs page, but Slack allows 10 open connections per app
    # (docs.slack.dev/apis/events-api/using-socket-mode) and its SDKs call it on every (re)connect: a
    # bucket of 10 lets an app open all of them at start, and refills at Tier 1's one a minute.
    "connections_open": Tier("Tier 1 (10 connections at start)", 1, 10),
    # chat.postMessage: "generally allow an app to post 1 message per second to a specific channel ...
    # short bursts" (docs.slack.dev/reference/methods/chat.postMessage, "Rate limiting"). The burst size
    # is not documented; 3 is the strict end of "short bursts" (a card and two thread chunks), so a bot
    # that posts ten cards at once must pace or queue them, as it would have to on Slack.
    "post_per_channel": Tier("Special: 1 per second per channel", 60, 3),
    # ... "limiting posting to several hundred messages per minute" across the workspace: the low end
    "post_per_workspace": Tier("Special: several hundred per minute per workspace", 200, 50),
}

METHOD_TIERS: dict[str, str] = {
    "api.test": "tier4",
    "auth.test": "special_hundreds",
    "apps.connections.open": "connections_open",
    "chat.delete": "tier3",
    "chat.getPermalink": "special_hundreds",
    "chat.postEphemeral": "tier4",
    "chat.postMessage": "post_per_workspace",  # and per channel, below
    "chat.update": "tier3",
    "conversations.history": "tier3",  # internal apps; docs.slack.dev/changelog/2025/05/29 lowers it for
    "conversations.replies": "tier3",  # commercially distributed non-Marketplace apps to 1 per minute
    "conversations.info": "tier3",
    "conversations.join": "tier3",
    "conversations.list": "tier2",
    "conversations.members": "tier4",
    "conversations.open": "tier3",
    "usergroups.users.list": "tier2",
    "users.info": "tier4",
    "views.open": "tier4",
    "views.update": "tier4",
    "views.publish": "tier4",  # docs.slack.dev/reference/methods/views.publish: "Tier 4: 100+ per minute"
}
PER_CHANNEL: dict[str, str] = {"chat.postMessage": "post_per_channel"}


@dataclass(slots=True)
class Bucket:
    tier: Tier
    tokens: float
    at: float

    def wait(self, now: float) -> float:
        """Seconds until one request is allowed (0 when it is now); refills first."""
        rate = self.tier.per_minute / 60.0
        self.tokens = min(float(self.tier.burst), self.tokens + (now - self.at) * rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate

    def take(self) -> None:
        self.tokens -= 1


class RateLimiter:
    """One bucket per (method) and, for chat.postMessage, per (method, channel) too.

    ``channel_key`` turns a ``channel`` argument (ID or name) into the ID, so ``#approvals`` and its ID
    share one bucket. With ``enabled`` False nothing is ever limited (benchmarks measuring the bot, not Slack).
    """

    def __init__(self, clock: Clock, channel_key: Callable[[str], str], *, enabled: bool = True) -> None:
        self.clock = clock
        self.channel_key = channel_key
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def retry_after(self, method: str, channel: str | None) -> int | None:
        """None when the call may go ahead (and is counted), else the ``Retry-After`` seconds."""
        if not self.enabled:
            return None
        now = self.clock.now()
        wanted: list[tuple[tuple[str, str], str]] = []
        if method in METHOD_TIERS:
            wanted.append(((method, ""), METHOD_TIERS[method]))
        if method in PER_CHANNEL and channel:
            wanted.append(((method, self.channel_key(channel)), PER_CHANNEL[method]))
        buckets = [self._bucket(key, tier, now) for key, tier in wanted]
        waits = [b.wait(now) for b in buckets]
        if any(waits):
            return max(1, math.ceil(max(waits)))  # a refused call takes nothing from any bucket
        for bucket in buckets:
            bucket.take()
        return None

    def _bucket(self, key: tuple[str, str], tier_name: str, now: float) -> Bucket:
        tier = TIERS[tier_name]
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(tier, float(tier.burst), now)
        return bucket
