"""``approval-bot demo``: the whole product in one offline process, read and driven from the terminal.

One event loop runs a local Slack (``bot.sandbox``), the real bot connected to it over Socket Mode (``Service``),
a scripted model (unless ``MODEL_CONFIG`` or ``OPENAI_API_KEY`` is set) and Redis (``REDIS_URL`` if set, else
fakeredis in this process, through the same redis-py client). The demo types ``/agent-task`` for the person,
prints every Slack message as they would read it, and asks them to Approve, Revise (with feedback) or Cancel;
``--auto`` answers by itself, for smoke tests.
"""

from bot.demo.session import run_demo

__all__ = ["run_demo"]
