"""Ask in Slack before a deploy step, and run it only when a person approved it.

    python examples/gate_deploy.py --title "Deploy v1.4 to production" --details "12 commits" \\
        --requester ci:release --key deploy-v1.4 -- ./deploy.sh v1.4

Needs the bots' Redis (``--redis-url``, default ``$REDIS_URL``) and a running ``approval-bot run`` (the card is
posted when one starts, if none runs yet). Prints who decided. Exits with the deploy step's own exit status when
approved, with 3 when it was not (revised, cancelled, denied by the policy, or expired), and with 2 for bad usage
or a Redis that does not answer.
The same ``--key`` again (a retried CI job) asks no second time: it returns the first request's decision.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from bot.client import Decision, RedisUnavailable, ask_sync

NOT_APPROVED = 3
USAGE = 2


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a deploy step only once a person approves it in Slack.")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    parser.add_argument("--title", required=True, help="what is asked, one line")
    parser.add_argument("--details", default="", help="more text for the card")
    parser.add_argument("--requester", default=None, help="a Slack user id (U…) or a name such as ci:release")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds people have to decide")
    parser.add_argument("--key", default=None, help="idempotency key: the same key asks once")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the deploy step and its arguments")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("name the deploy step after --")
    return args


def said(decision: Decision) -> str:
    who = decision.by or "nobody"
    line = f"{decision.status} by {who}"
    if decision.at is not None:
        line += f" at {decision.at:%Y-%m-%d %H:%M:%S} UTC"
    return line + (f": {decision.feedback}" if decision.feedback else "")


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    shown = " ".join(args.command)
    details = f"{args.details}\n\nIt runs: `{shown}`".strip()
    try:
        decision = ask_sync(
            args.redis_url, args.title, details, requester=args.requester, timeout=args.timeout, key=args.key
        )
    except (RedisUnavailable, ValueError) as exc:
        print(f"could not ask: {exc}", file=sys.stderr)
        return USAGE
    print(f"approval {decision.approval_id}: {said(decision)}", flush=True)
    if not decision.approved:
        print("not deploying", flush=True)
        return NOT_APPROVED
    return subprocess.run(args.command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
