#!/usr/bin/env bash
# Set up .venv and run the whole test suite offscreen against real RE Managers the harness starts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
