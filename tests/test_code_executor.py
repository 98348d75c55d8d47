"""The code executor with real processes: no secret reaches the code, nothing outlives the time limit, output is
bounded and the throwaway directory goes.

Each escape is tried from inside a block, as code an agent could write would try it. Where the protection
depends on who the bot runs as, the test says which one it checks, and a control run shows the same block does
read the secret once the protection is off (so a passing test means the protection held, not a broken probe).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conditions import until
from workflows.executor import CODE_USER, IsolatedCodeExecutor, succeeded

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-fake-bot-token-4242",
    "SLACK_APP_TOKEN": "xapp-fake-app-token-4242",
    "OPENAI_API_KEY": "sk-fake-openai-key-4242",
    "REDIS_URL": "redis://:fake-redis-password-4242@localhost:6379/0",
}
DOTENV_SECRET = "xoxb-fake-dotenv-token-4242"
ROOT = os.geteuid() == 0

PROBE = """
import os
parent = os.getppid()
print("parent", parent)
for what, read in [
    ("environ", lambda: open(f"/proc/{parent}/environ", "rb").read().decode(errors="replace")),
    ("cwd", lambda: os.readlink(f"/proc/{parent}/cwd")),
    ("dotenv-via-cwd", lambda: open(f"/proc/{parent}/cwd/.env").read()),
    ("dotenv-by-path", lambda: open(os.environ.get("DOTENV_PATH") or %r).read()),
    ("cmdline", lambda: open(f"/proc/{parent}/cmdline", "rb").read().decode(errors="replace")),
]:
    try:
        print("READ", what, read())
    except OSError as exc:
        print("DENIED", what, exc.errno)
"""


def probe(dotenv: Path) -> str:
    return PROBE % str(dotenv)


def verdicts(stdout: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in stdout.splitlines() if line.startswith(("READ", "DENIED"))}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory like the bot's: world-traversable, with a .env kept ``chmod 600``."""
    directory = tmp_path / "bot"
    directory.mkdir()
    for path in (tmp_path, directory):
        path.chmod(0o755)
    dotenv = directory / ".env"
    dotenv.write_text(f"SLACK_BOT_TOKEN={DOTENV_SECRET}\n")
    dotenv.chmod(0o600)
    monkeypatch.chdir(directory)
    return directory


def leaked(text: str) -> list[str]:
    return [secret for secret in [*SECRETS.values(), DOTENV_SECRET] if secret in text]


async def test_a_block_printing_its_environment_sees_no_secret(secrets: None, bot_dir: Path) -> None:
    code = "import json, os\nprint(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), 'uid': os.getuid()}))"

    execution = await IsolatedCodeExecutor(10).execute("python", code)

    assert execution.exit_code == 0, execution.stderr
    seen = json.loads(execution.stdout)
    assert leaked(execution.stdout) == []
    assert sorted(seen["env"]) == ["HOME", "LANG", "PATH"]
    assert seen["env"]["HOME"] == seen["cwd"] and Path(seen["cwd"]).parent == Path(tempfile.gettempdir())
    assert Path(seen["cwd"]) != bot_dir
    assert seen["uid"] == (CODE_USER if ROOT else os.getuid())


async def test_a_bash_block_sees_no_secret_either(secrets: None, bot_dir: Path) -> None:
    execution = await IsolatedCodeExecutor(10).execute("bash", "env; echo; set")

    assert execution.exit_code == 0 and "HOME=" in execution.stdout
    assert leaked(execution.stdout + execution.stderr) == []


@pytest.mark.skipif(not ROOT, reason="the code runs as nobody only when the bot is root (see the non-dumpable test)")
async def test_code_run_as_nobody_cannot_read_the_parents_environ_cwd_or_dotenv(secrets: None, bot_dir: Path) -> None:
    execution = await IsolatedCodeExecutor(10).execute("python", probe(bot_dir / ".env"))

    assert f"parent {os.getpid()}" in execution.stdout  # the probe looked at this very process
    assert verdicts(execution.stdout) == {
        "environ": "DENIED",
        "cwd": "DENIED",
        "dotenv-via-cwd": "DENIED",
        "dotenv-by-path": "DENIED",
        "cmdline": "READ",  # world-readable by design: the bot never takes a secret as an argument
    }
    assert leaked(execution.stdout) == []


async def test_code_run_without_the_user_switch_does_read_them(secrets: None, bot_dir: Path) -> None:
    """The control: the same probe, run as this process's own (dumpable) user, reads the parent's environment and
    its .env through its cwd (what ``/proc/<pid>/environ`` shows is the environment the process started with, not
    what ``monkeypatch`` set since: the stand-in test below checks real secrets there)."""
    execution = await IsolatedCodeExecutor(10, user=None).execute("python", probe(bot_dir / ".env"))

    assert verdicts(execution.stdout)["environ"] == "READ"
    assert verdicts(execution.stdout)["dotenv-via-cwd"] == "READ" and DOTENV_SECRET in execution.stdout


STAND_IN = """
import asyncio, concurrent.futures.thread, ctypes, json, os, sys  # all imported while the files are readable
from workflows.executor import IsolatedCodeExecutor, make_undumpable
if os.geteuid() == 0:  # be a bot that is not root: the code then runs as the bot's own user
    os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
if sys.argv[1] == "undumpable":
    assert make_undumpable()
else:  # changing uid made us non-dumpable already; the control undoes it
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
execution = asyncio.run(IsolatedCodeExecutor(10).execute("python", sys.stdin.read()))
print(json.dumps({"uid": os.getuid(), "stdout": execution.stdout, "stderr": execution.stderr}))
"""


async def stand_in(mode: str, bot_dir: Path) -> dict[str, object]:
    """A bot stand-in in its own process (secrets in its environment, .env in its cwd) that runs the probe."""
    env = {**os.environ, **SECRETS, "PYTHONPATH": str(Path(__file__).parents[1])}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STAND_IN,
        mode,
        cwd=bot_dir,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(probe(bot_dir / ".env").encode()), 30)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, object] = json.loads(stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
async def test_a_non_dumpable_bot_hides_its_environ_and_cwd_from_code_of_the_same_user(bot_dir: Path) -> None:
    guarded = await stand_in("undumpable", bot_dir)
    control = await stand_in("dumpable", bot_dir)

    assert guarded["uid"] == control["uid"] != 0
    assert verdicts(str(guarded["stdout"]))["environ"] == "DENIED"
    assert verdicts(str(guarded["stdout"]))["cwd"] == "DENIED"
    assert verdicts(str(guarded["stdout"]))["dotenv-via-cwd"] == "DENIED"
    assert leaked(str(guarded["stdout"])) == []
    assert verdicts(str(control["stdout"]))["environ"] == "READ"  # the probe works: dumpable, it reads them
    assert SECRETS["SLACK_BOT_TOKEN"] in str(control["stdout"])


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


SPAWNS_A_STUBBORN_GRANDCHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"],
    stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "ready\\n"
print("grandchild", child.pid, flush=True)
time.sleep(300)
"""


async def test_a_block_is_killed_at_its_time_limit_with_a_grandchild_that_ignores_sigterm() -> None:
    began = time.monotonic()
    execution = await IsolatedCodeExecutor(2).execute("python", SPAWNS_A_STUBBORN_GRANDCHILD)
    took = time.monotonic() - began

    assert execution.timed_out and execution.exit_code == 124
    assert 2 <= took < 8
    grandchild = int(execution.stdout.split("grandchild", 1)[1].split()[0])
    await until(lambda: not running(grandchild), timeout=5, what="the grandchild is gone")
    assert "Killed at the time limit (2 s)" in execution.describe(2) and not succeeded(execution.describe(2))


async def test_what_a_block_leaves_running_in_the_background_is_killed_when_it_exits() -> None:
    """The background process keeps the block's stdout open: the block still ends when its own process does."""
    code = "(trap '' TERM; exec sleep 300) &\necho background $!"

    began = time.monotonic()
    execution = await IsolatedCodeExecutor(30).execute("bash", code)

    assert execution.exit_code == 0 and not execution.timed_out and time.monotonic() - began < 10
    background = int(execution.stdout.split()[1])
    await until(lambda: not running(background), timeout=5, what="the background process is gone")


async def test_output_is_bounded_and_the_cut_is_said() -> None:
    code = "import sys\nprint('x' * 50_000)\nprint('e' * 20_000, file=sys.stderr)\nprint('tail')"

    execution = await IsolatedCodeExecutor(10, output_limit=10_000).execute("python", code)

    assert execution.stdout == "x" * 10_000 and execution.stdout_cut == 50_006 - 10_000
    assert execution.stderr == "e" * 10_000 and execution.stderr_cut == 20_001 - 10_000
    described = execution.describe(10)
    assert described.startswith("Exit code 0.") and succeeded(described)
    assert "(stdout cut: 40,006 more bytes not shown)" in described
    assert "(stderr cut: 10,001 more bytes not shown)" in described
    assert len(described) < 20_300


async def test_the_throwaway_directory_is_removed_whatever_the_code_left_in_it() -> None:
    code = "mkdir -p locked/deeper && touch locked/deeper/f && chmod 000 locked/deeper && chmod 500 locked && pwd"

    execution = await IsolatedCodeExecutor(10).execute("bash", code)

    workdir = Path(execution.stdout.strip())
    assert execution.exit_code == 0 and workdir.name.startswith("approval-bot-code-")
    assert not await asyncio.to_thread(workdir.exists)


async def test_the_directory_is_removed_after_a_timeout_too() -> None:
    execution = await IsolatedCodeExecutor(1).execute("bash", "pwd; touch left-behind; sleep 300")

    assert execution.timed_out
    assert not await asyncio.to_thread(Path(execution.stdout.strip()).exists)


async def test_a_failing_block_reports_its_exit_code_and_stderr() -> None:
    execution = await IsolatedCodeExecutor(10).execute("bash", "echo oops >&2; exit 3")

    assert execution.exit_code == 3 and execution.stderr == "oops\n"
    assert execution.describe(10).startswith("Exit code 3.\nstdout: (empty)\nstderr:\n```\noops\n```")


async def test_only_python_and_bash_blocks_run() -> None:
    with pytest.raises(ValueError, match="only python and bash"):
        await IsolatedCodeExecutor(10).execute("ruby", "puts 1")
