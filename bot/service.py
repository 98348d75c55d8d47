"""The running bot: everything with a lifetime opens here in order and closes in reverse.

Used by ``approval-bot run`` (real Slack) and ``approval-bot demo`` (the emulator); both hand it settings, a
Redis client and a model factory.

Shutdown (``shutdown``) stops taking runs at once, then closes in reverse: Socket Mode once every envelope it
received is acked (then what listeners do after their ack), the worker (its runs stopped, their leases given
back), the prompter's card updates, the approval store. Every step is bounded and the whole has one deadline, so
a stalled Redis, an unreachable Slack or a hanging model call cannot hold the process; what a step leaves undone
is returned in words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType

import aiohttp
import redis.asyncio as aioredis

from bot.approvals import Approval, ApprovalStore, StoreSettings
from bot.approvals.card_stream import CardStream
from bot.approvals.policy import Policy, load_policy
from bot.approvals.published_policy import PolicyPublisher
from bot.approvals.reminders import Reminders
from bot.bridge import AskingRules
from bot.config import Settings
from bot.durable.store import RunStore
from bot.durable.worker import Worker
from bot.edits import Editables
from bot.operations import HealthServer, Metrics, Probe
from bot.prompts import MessageRef
from bot.runner import WorkflowRunner
from bot.slack.acks import Malformed
from bot.slack.allowing import Allowing
from bot.slack.answers import ephemeral, refusal
from bot.slack.app import AppBuilder, build_app, card_client, web_client
from bot.slack.approvers import Approvers
from bot.slack.card_requests import CardRequestConsumer
from bot.slack.editing import Editing
from bot.slack.home import HomeTab, Visitors
from bot.slack.http import SlackHttpServer
from bot.slack.listeners import Listeners
from bot.slack.names import UserNames
from bot.slack.prompter import CardPosted, Prompter
from bot.slack.redelivery import Redeliveries
from bot.slack.reminding import Reminding
from bot.slack.requester import RequesterLine
from bot.slack.socket import AckingSocketModeHandler
from bot.slack.startup import Workspace, preflight
from bot.slack.threads import ThreadMarks
from bot.standing import StandingApprovals
from workflows import DEFAULT_WORKFLOW, Models, argument_checks, registry

log = logging.getLogger(__name__)


REOPEN_WAIT_S = 10.0
"""How long an Ask again click waits for its run to record that it ended (it does a moment after the expiry)."""
HEALTH_S = 0.5


SHUTDOWN_S = 7.5
"""The whole of ``Service.shutdown``; the CLI adds the Redis client's close and exits by 10 s in any case."""
STOP_TAKING_S = 0.5
ACKS_S = 1.5
SOCKET_CLOSE_S = 0.5
LISTENERS_S = 1.5
RUNS_STOP_S = 1.5
RUNS_RELEASE_S = 2.0
CARDS_S = 1.0
STORE_S = 0.5
REMINDERS_S = 0.4
SESSION_S = 0.3
HOME_S = 0.3

Closing = Callable[[], Awaitable[list[str] | None]]
"""A closing step: closes one thing and says what it left undone (nothing: ``None`` or ``[]``)."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self, at_most: float) -> float:
        return max(0.0, min(at_most, self.at - time.monotonic()))


class Service:
    def __init__(self, settings: Settings, redis: aioredis.Redis, model: Models) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("the service needs the bot token")
        if settings.http_port is None and settings.slack_app_token is None:
            raise ValueError("Socket Mode needs the app token")
        if settings.http_port is not None and settings.slack_signing_secret is None:
            raise ValueError("HTTP mode needs the signing secret")
        self.settings = settings
        self.redis = redis
        self.model = model
        self.workspace: Workspace | None = None
        self.runner: WorkflowRunner | None = None
        self.worker: Worker | None = None
        self.stage = "starting"
        """What the service is doing now (read by the CLI's last-resort exit to say where it was stuck)."""
        self._stack = AsyncExitStack()
        self._deadline = Deadline(SHUTDOWN_S)
        self._left: list[str] | None = None

    async def __aenter__(self) -> Service:
        try:
            await self._start()
        except BaseException:
            await self.shutdown()
            raise
        self.stage = "running"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    async def shutdown(self, budget_s: float = SHUTDOWN_S) -> list[str]:
        """Stop taking runs, then close everything in reverse order, each step bounded and all within
        ``budget_s``; returns what was left undone (empty: everything was handed over). Idempotent."""
        if self._left is not None:
            return self._left
        self._left = []
        self._deadline = Deadline(budget_s)
        if self.worker is not None:
            self.stage = "stopping taking runs"
            await self.worker.stop_taking(self._deadline.left(STOP_TAKING_S))
        await self._stack.aclose()
        self.stage = "closed"
        return self._left

    def _closes(self, what: str, bound_s: float, close: Closing) -> None:
        """Push a closing step: run at shutdown (in reverse order) within ``bound_s`` and the deadline."""

        async def step() -> None:
            assert self._left is not None
            self.stage = f"closing {what}"
            seconds = self._deadline.left(bound_s)
            try:
                async with asyncio.timeout(seconds):
                    self._left.extend(await close() or [])
            except TimeoutError:
                self._left.append(f"{what}: not closed within {seconds:.1f} s")
            except Exception:  # one step failing must not keep the others from closing
                log.exception("closing %s failed", what)
                self._left.append(f"{what}: failed while closing")

        self._stack.push_async_callback(step)

    async def _start(self) -> None:
        settings = self.settings
        assert settings.slack_bot_token is not None
        bot_token = settings.slack_bot_token.get()
        socket_mode = settings.http_port is None and settings.slack_app_token is not None
        app_token = settings.slack_app_token.get() if socket_mode and settings.slack_app_token else None
        policy = load_policy(settings.policy_file)  # a bad policy stops the start, before anything connects
        # One HTTP session for every Web API call and response_url post of the process: slack-sdk otherwise
        # opens a session, so a connection and a TLS handshake, per call. Closed last.
        session = aiohttp.ClientSession()
        self._closes("the HTTP session", SESSION_S, _closing(session.close))
        metrics = self.metrics = Metrics()
        client = web_client(bot_token, settings.slack_api_url, session, on_error=metrics.slack_error)
        self.workspace = await preflight(client, app_token, settings.approvals_channel, settings.approvals_channel_name)
        approvers = Approvers(client, settings.approver_users, settings.approver_groups)
        if approvers.anyone:
            log.warning("APPROVERS is empty: anyone in %s may approve, revise or cancel", settings.approvals_channel)
        elif approvers.groups:
            await approvers.refresh()

        seal_key = settings.audit_hmac_key.get().encode() if settings.audit_hmac_key else None
        store_settings = StoreSettings(settings.retention, settings.audit_retention, audit_hmac_key=seal_key)
        store = ApprovalStore(self.redis, store_settings)
        standings = None
        if settings.standing_timebox > 0:
            standings = StandingApprovals(
                self.redis, retention_s=settings.retention, timebox_s=settings.standing_timebox
            )
        await store.start()
        self._closes("the approval store", STORE_S, _closing(store.aclose))
        reminders = Reminders(
            self.redis, remind_after_s=settings.remind_after, escalate_after_s=settings.escalate_after
        )
        store.on_transition(reminders.cancel)
        prompter = Prompter(
            client,
            store,
            self.workspace.approvals_channel_id,
            self.workspace.url,
            card_client=card_client(bot_token, settings.slack_api_url, session, on_error=metrics.slack_error),
            approvers=approvers.named,
            mention_approvers=settings.mention_approvers,
            max_revisions=settings.max_revisions,
            ask_again_s=settings.ask_again_window,
            standings=standings,
            reminders=reminders if reminders.enabled else None,
        )
        store.on_transition(prompter.show_outcome)
        store.on_transition(metrics.on_transition)
        metrics.waits.set_function(lambda: store.subscriber.waiting)
        self._closes("card updates", CARDS_S, _closing(prompter.aclose))

        offered = partial(
            registry,
            ops_db=settings.ops_db,
            code_timeout=settings.code_timeout,
            max_revisions=settings.max_revisions,
        )
        workflows = offered(self.model)
        ordered = {DEFAULT_WORKFLOW: workflows[DEFAULT_WORKFLOW]} | workflows
        runs = RunStore(self.redis, retention_s=settings.retention, lease_s=settings.run_lease)
        editables = Editables(self.redis, settings.retention)
        notices = RequesterLine(client, self.workspace.url, session=session)
        self.runner = WorkflowRunner(
            store,
            prompter,
            runs,
            offered,
            self.model,
            settings.approval_timeout,
            rules=AskingRules(
                policy=policy,
                self_approval=settings.self_approval,
                max_revisions=settings.max_revisions,
                editables=editables,
                standings=standings,
                on_resumed=metrics.resumed,
            ),
            notices=notices,
        )
        self.worker = Worker(runs, self.runner, notices)
        prompter.on_posted = self.worker.card_posted  # and the Home tab (below) once it is built
        await self.worker.start()
        worker = self.worker
        self._closes(
            "the worker",
            RUNS_STOP_S + RUNS_RELEASE_S,
            lambda: worker.shutdown(stop_s=RUNS_STOP_S, release_s=RUNS_RELEASE_S),
        )
        home = HomeTab(store, approvers, client, notices.permalink, refusal, Visitors(self.redis))
        store.on_transition(home.on_transition)  # the Homes a decision concerns are refreshed
        self._closes("Home refreshes", HOME_S, _closing(home.aclose))
        prompter.on_posted = _both(self.worker.card_posted, home.card_posted)
        listeners = Listeners(
            home=home,
            store=store,
            prompter=prompter,
            start_run=self.worker.enqueue,
            workflows={name: workflow.description for name, workflow in ordered.items()},
            approvers=approvers,
            redeliveries=Redeliveries(self.redis),
            threads=ThreadMarks(self.redis, settings.retention),
            names=UserNames(client),
            bot_user_id=self.workspace.bot_user_id,
            reopen=partial(_reopen, runs, settings.ask_again_window) if settings.ask_again_window > 0 else None,
        )
        editing = Editing(
            store=store,
            editables=editables,
            approvers=approvers,
            policy=policy,
            check_args=argument_checks(settings.ops_db),
            refusal=refusal,
            say=ephemeral,
            redeliveries=listeners.redeliveries,
        )
        allowing = Allowing(listeners, standings, policy.digest) if standings is not None else None
        app = partial(build_app, client, listeners, editing, allowing)
        slack = await self._connect(app, listeners.on_malformed, metrics, app_token)
        await self._post_requested_cards(settings, policy, store, prompter)
        if reminders.enabled:
            reminding = Reminding(
                client,
                reminders,
                notices.permalink,
                post_client=card_client(bot_token, settings.slack_api_url, session, on_error=metrics.slack_error),
                approvers=approvers.named,
                escalate_to=settings.escalate_to,
            )
            reminding.start()
            self._closes("reminders", REMINDERS_S, _closing(reminding.aclose))
        if settings.health_port is not None:
            await self._serve_health(settings, metrics, slack)
        log.info(
            "approval-bot is connected to team %s; approvals go to %s (%s)",
            self.workspace.team,
            settings.approvals_channel,
            self.workspace.approvals_channel_id,
        )

    async def _connect(
        self, app: AppBuilder, on_malformed: Malformed, metrics: Metrics, app_token: str | None
    ) -> Probe:
        """Slack's requests start arriving: over Socket Mode with the app token, else over HTTP (``HTTP_PORT``).
        Returns the probe of that connection (for ``/healthz``)."""
        settings = self.settings
        secret = settings.slack_signing_secret.get() if settings.slack_signing_secret else ""
        if app_token is None:
            assert settings.http_port is not None
            server = SlackHttpServer(
                app(signing_secret=secret),
                secret,
                host=settings.http_host,
                port=settings.http_port,
                on_malformed=on_malformed,
            )
            return await self._serve_http(server)
        handler = AckingSocketModeHandler(app(signing_secret=secret), app_token, on_malformed=on_malformed)
        self._closes(
            "Socket Mode",
            ACKS_S + SOCKET_CLOSE_S + LISTENERS_S,
            lambda: handler.shutdown(ACKS_S, SOCKET_CLOSE_S, LISTENERS_S),
        )
        handler.client.on_close_listeners.append(_counting_reconnects(metrics))
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return handler.connected

    async def _post_requested_cards(
        self, settings: Settings, policy: Policy, store: ApprovalStore, prompter: Prompter
    ) -> None:
        """Publish the policy for askers outside the bot, and post the cards they ask for (``bot.client``)."""
        publisher = PolicyPublisher(self.redis, policy, self_approval=settings.self_approval, ttl_s=settings.retention)
        await publisher.start()
        self._closes("the published policy", CARDS_S, _closing(publisher.aclose))
        cards = CardStream(self.redis, lease_s=settings.card_lease, ttl_s=settings.retention)
        consumer = CardRequestConsumer(store, prompter, cards, channels={settings.approvals_channel})
        await consumer.start()
        self._closes("card requests", CARDS_S, _closing(consumer.aclose))

    async def _serve_http(self, server: SlackHttpServer) -> Probe:
        """HTTP mode (``HTTP_PORT``): the same app, its requests over HTTP; ready while the server listens."""
        self.http = server
        self._closes("HTTP mode", ACKS_S + LISTENERS_S, lambda: server.aclose(acks_s=ACKS_S, listeners_s=LISTENERS_S))
        await server.start()

        async def serving() -> bool:
            return server.serving

        return serving

    async def _serve_health(self, settings: Settings, metrics: Metrics, slack: Probe) -> None:
        """``/healthz`` and ``/metrics`` on ``HEALTH_PORT``: ready while Socket Mode is connected (in HTTP mode:
        while the server listens) and Redis answers."""
        assert settings.health_port is not None and self.worker is not None
        worker, redis = self.worker, self.redis
        metrics.runs.set_function(lambda: worker.running)

        async def pinged() -> bool:
            return bool(await redis.ping())

        server = HealthServer(metrics, slack=slack, redis=pinged, host=settings.health_host, port=settings.health_port)
        await server.start()
        self.health = server
        self._closes("the health server", HEALTH_S, _closing(server.aclose))


def _counting_reconnects(metrics: Metrics) -> Callable[[object], Awaitable[None]]:
    async def closed(message: object) -> None:  # the client reconnects on its own; a shutdown closes differently
        metrics.reconnects.inc()

    return closed


async def _reopen(runs: RunStore, window_s: float, workflow_id: str, step: int) -> str:
    """Reopen the run, waiting (a few seconds at most) for one whose card expired to record its end."""
    backoff, give_up = 0.05, asyncio.get_running_loop().time() + REOPEN_WAIT_S
    while (status := await runs.reopen(workflow_id, step, window_s)) == "finishing":
        if asyncio.get_running_loop().time() + backoff > give_up:
            break
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 0.5)
    return status


def _both(first: CardPosted, then: CardPosted) -> CardPosted:
    async def posted(approval: Approval, ref: MessageRef) -> None:
        await first(approval, ref)
        await then(approval, ref)

    return posted


def _closing(close: Callable[[], Awaitable[None]]) -> Closing:
    async def step() -> None:
        await close()

    return step
