"""Running it like a service: /healthz follows Slack and Redis, /metrics counts what happened, and LOG_FORMAT=json
writes one JSON object a line naming the run and the approval."""

from __future__ import annotations

import json

import aiohttp

from bot.sandbox import SlackEmulator
from bot.slack import blocks
from tests.conditions import until
from tests.e2e.conftest import People
from tests.e2e.test_approval_flow import report_to, start_task
from tests.redis_server import RedisServer, free_port


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as reply:
        return reply.status, await reply.text()


def metric(page: str, name: str) -> float:
    """The value of one sample line (``name`` with its labels) of a Prometheus text page."""
    for line in page.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no sample {name} in the metrics page")


async def test_health_metrics_and_json_logs(
    slack: SlackEmulator, people: People, start_bot, redis_server: RedisServer
) -> None:
    port = free_port()
    bot = await start_bot(HEALTH_PORT=str(port), HEALTH_HOST="127.0.0.1", LOG_FORMAT="json")
    base = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        try:
            return (await get(f"{base}/healthz"))[0] == 200
        except aiohttp.ClientError:
            return False

    await until(ready, timeout=10)
    card = await start_task(slack, people)
    await slack.click(people.bob, people.approvals, card.ts, blocks.ACTION_APPROVE)
    await report_to(slack, people.alice, "approved")

    status, page = await get(f"{base}/metrics")
    assert status == 200
    assert metric(page, 'approval_bot_decisions_total{outcome="approved"}') == 1
    assert metric(page, "approval_bot_click_to_resume_seconds_count") == 1
    assert metric(page, "approval_bot_waits_pending") == 0 and "xoxb-" not in page

    redis_server.stall()
    try:
        status, body = await get(f"{base}/healthz")
        assert (status, json.loads(body)) == (503, {"status": "not ready", "slack": True, "redis": False})
    finally:
        redis_server.resume()
    await until(ready, timeout=10)

    lines = [json.loads(line) for line in bot.output().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    run_lines = [line for line in lines if line.get("run_id", "").startswith("wf-")]
    assert run_lines and any(line.get("approval_id", "").startswith(line["run_id"]) for line in run_lines)
    assert slack.bot_token not in bot.output()
