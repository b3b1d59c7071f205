#!/usr/bin/env bash
# The README's test command: installs what the tests need, lints, type-checks and runs every test tier.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH_TEST_DEPS=1 scripts/install-deps.sh
if [ "$(id -u)" != 0 ]; then
  echo "note: not root: privileged and end-to-end tests will be skipped" >&2
fi
.venv/bin/ruff check berth tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -p no:cacheprovider "$@"
