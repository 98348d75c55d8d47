#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, starts what it needs, runs everything.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "==> installing redis-server (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

if [ ! -x /usr/bin/chromium ]; then  # the browser tests (tests/browser) drive Debian's chromium, headless
  echo "==> installing chromium (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> installing the package and its dev extra"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

echo "==> ruff"
.venv/bin/ruff check bot workflows tests benchmarks
.venv/bin/ruff format --check bot workflows tests benchmarks

echo "==> mypy"
.venv/bin/mypy

echo "==> import contracts"
.venv/bin/lint-imports

echo "==> pytest (${TEST_WORKERS:-2} workers; TEST_WORKERS=0 runs in this process)"
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" "$@"
