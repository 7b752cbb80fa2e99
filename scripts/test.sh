#!/usr/bin/env bash
# Set up .venv, check style and the layer contracts, and run the whole test suite (offscreen, plus
# tests/desktop on the real xcb plugin under Xvfb) against real RE Managers the harness starts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# The walls first (seconds): style and the import contracts in pyproject.toml.
.venv/bin/ruff check qs_gui tests bench
.venv/bin/lint-imports
export QT_QPA_PLATFORM=offscreen
# The reference client's own suite (tests/reference) runs its asyncio faces, 0MQ and HTTP, here;
# its synchronous faces add ~40 minutes and run with
# QS_GUI_REFERENCE_FACES=zmq-async,zmq-sync,http-async,http-sync (README "The oracle").
export QS_GUI_REFERENCE_FACES="${QS_GUI_REFERENCE_FACES:-zmq-async,http-async}"
exec .venv/bin/python -m pytest "$@"
