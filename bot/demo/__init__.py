"""``approval-bot demo``: the whole product in one offline process, tried in a browser or in the terminal.

One event loop runs a local Slack (``bot.sandbox``), the real bot connected to it over Socket Mode (``Service``),
scripted models (unless ``MODEL_CONFIG`` or ``OPENAI_API_KEY`` is set; ``workflows.scripted`` applies a
revision's feedback) and Redis (``REDIS_URL`` if set, else fakeredis in this process, through the same redis-py
client). By default the emulator serves its sandbox page (``bot.demo.page``), a small Slack in the browser where
alice, bob and carol type tasks and decide; ``--terminal`` instead types ``/agent-task`` for the person, prints
every Slack message as they would read it and asks them to Approve, Revise (with feedback) or Cancel
(``bot.demo.transcript``); ``--auto`` answers by itself, for smoke tests.
"""

from bot.demo.session import run_demo

__all__ = ["run_demo"]
