"""The container files: Dockerfile, .dockerignore, docker-compose.yml and .env.example.

Their structure is checked as text and YAML on every run; the image itself is built only where a Docker engine
answers (the test says why it skipped otherwise).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = "python:3.11-slim"
SHUTDOWN_S = 10.0
"""The bot ends its shutdown within this many seconds of SIGTERM (``bot/cli.py``)."""

_SETTING = re.compile(r"""\b(?:parse|token)\(\s*environ,\s*"([A-Z][A-Z0-9_]*)\"""")
_ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
_DURATION = re.compile(r"^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def settings_read_by_config() -> set[str]:
    """Every variable ``bot/config`` reads, found in its source (``parse(environ, "NAME"``, ``token(...)``)."""
    sources = sorted((REPO / "bot" / "config").glob("*.py"))
    return {name for path in sources for name in _SETTING.findall(path.read_text(encoding="utf-8"))}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    pairs = []
    for instruction in joined:
        keyword, _, arguments = instruction.partition(" ")
        pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def seconds(duration: str) -> float:
    """A Compose duration such as ``15s`` or ``1m30s``."""
    match = _DURATION.match(duration)
    assert match and duration, f"{duration!r} is not a duration such as 15s"
    minutes, secs = match.groups()
    return 60 * int(minutes or 0) + float(secs or 0)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_images_are_built_on_the_slim_python_base() -> None:
    bases = [arguments.split()[0] for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert bases, "the Dockerfile has no FROM"
    assert all(base == BASE_IMAGE for base in bases), bases


def test_the_package_is_installed_without_a_pip_cache() -> None:
    runs = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs, "the Dockerfile never pip-installs the package"
    assert all("--no-cache-dir" in run for run in installs), installs
    assert any(re.search(r"pip install .*--no-cache-dir \.$", run) for run in installs), installs


def test_the_bot_runs_as_a_user_other_than_root() -> None:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "the final stage never switches user, so the bot would run as root"
    user = users[-1].partition(":")[0]
    assert user not in ("root", "0"), users[-1]
    # The switch comes before the entry point, so nothing after it runs as root by accident.
    keywords = [keyword for keyword, _ in final_stage()]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")


def test_the_entry_point_is_the_cli_and_the_command_is_run() -> None:
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["approval-bot"]
    assert json.loads(stage["CMD"]) == ["run"]


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", "tests"} <= ignored
    # What the build copies must stay in the context.
    copied = {
        source
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert copied >= {"pyproject.toml", "README.md", "bot", "workflows"}
    assert not copied & ignored, copied & ignored


def test_redis_persists_to_a_named_volume_and_has_a_healthcheck(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    named = [volume.split(":")[0] for volume in redis["volumes"] if volume.endswith(":/data")]
    assert named and named[0] in compose["volumes"], redis["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_the_bot_is_built_here_and_starts_after_a_healthy_redis(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["build"] in (".", {"context": "."})
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["restart"] == "unless-stopped"
    assert seconds(bot["stop_grace_period"]) > SHUTDOWN_S


def test_the_bot_reads_dotenv_and_reaches_the_redis_service(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    entries = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    paths = [entry if isinstance(entry, str) else entry["path"] for entry in entries]
    assert paths == [".env"]
    environment = bot["environment"]
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_the_working_directory_is_a_volume(compose: dict[str, Any]) -> None:
    """``ops.sqlite3`` (OPS_DB's default) lives in the working directory: it must outlast the container."""
    workdirs = [arguments for keyword, arguments in final_stage() if keyword == "WORKDIR"]
    assert workdirs, "the final stage sets no WORKDIR"
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in compose["services"]["bot"]["volumes"]}
    assert workdirs[-1] in mounts.values(), mounts
    volume = next(name for name, target in mounts.items() if target == workdirs[-1])
    assert volume in compose["volumes"], f"{volume} is not a named volume"


def test_env_example_names_every_setting_exactly_once() -> None:
    expected = settings_read_by_config()
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "REDIS_URL"} <= expected, "the pattern no longer finds settings"
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    named = [match.group(2) for match in map(_ENV_LINE.match, lines) if match]
    assert sorted(named) == sorted(set(named)), "a variable appears twice"
    assert set(named) - expected == set(), "not read by bot/config"
    assert expected - set(named) == set(), "read by bot/config but missing from .env.example"


def test_env_example_holds_placeholders_and_commented_defaults() -> None:
    set_values = {
        match.group(2): match.group(3)
        for match in map(_ENV_LINE.match, (REPO / ".env.example").read_text(encoding="utf-8").splitlines())
        if match and not match.group(1)
    }
    assert set_values == {"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_APP_TOKEN": "xapp-...", "OPENAI_API_KEY": "sk-..."}


def docker_engine() -> str | None:
    """Why the image cannot be built here, or None when a ``docker`` binary reaches an engine."""
    if shutil.which("docker") is None:
        return "no docker binary on PATH"
    try:
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer within 15 s"
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        return f"no reachable Docker engine ({reason})"
    return None


@pytest.mark.timeout(900)
def test_the_image_builds_and_runs_the_cli_as_a_non_root_user() -> None:
    reason = docker_engine()
    if reason is not None:
        pytest.skip(reason)
    tag = "slack-approval-bot:packaging-test"
    subprocess.run(["docker", "build", "--tag", tag, str(REPO)], check=True, timeout=840)
    try:
        uid = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert uid.stdout.strip() not in ("", "0")
        usage = subprocess.run(
            ["docker", "run", "--rm", tag, "--help"], capture_output=True, text=True, check=True, timeout=60
        )
        assert "run" in usage.stdout
    finally:
        subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, timeout=60)
