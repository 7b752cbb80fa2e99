#!/usr/bin/env bash
# Set up .venv and start qs-gui against a local demo RE Manager (stopped again on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh sim
exec .venv/bin/qs-gui --demo "$@"
