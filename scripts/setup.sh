#!/usr/bin/env bash
# Create/refresh the project venv (.venv) with the given extra, e.g. `scripts/setup.sh test`.
# Installs, when missing and we run as root, the Debian libraries Qt's xcb (X11) and offscreen
# platform plugins need (the list lives in qs_gui/qt_platform.py), and Xvfb for the test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA="${1:-sim}"
PY="${PYTHON:-python3}"

need_debs=()
if command -v dpkg-query >/dev/null 2>&1; then
  debs="$("$PY" qs_gui/qt_platform.py --debian-packages)"
  if [ "$EXTRA" = "test" ]; then
    debs="$debs xvfb xauth"  # the desktop tests run the real xcb plugin on a virtual X server
  fi
  for pkg in $debs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_debs+=("$pkg")
  done
  if ! "$PY" -c "import ensurepip, venv" >/dev/null 2>&1; then
    need_debs+=("python3-venv")
  fi
fi
if [ ${#need_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "[setup] installing Debian packages: ${need_debs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
  else
    echo "[setup] missing Debian packages (run as root or install them): ${need_debs[*]}" >&2
  fi
fi

# The reference client's own test suite (tests/reference) binds RE Managers on its fixed ports
# 60615-60625. Keep the kernel from handing those out as ephemeral ports to other connections of
# the same test run (one did, and every case failed with "ports in use"). Test machines only.
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ "$EXTRA" = "test" ] && [ -w "$reserved" ] && ! grep -q "60600-60639" "$reserved"; then
  current="$(cat "$reserved")"
  echo "[setup] reserving ports 60600-60639 (not handed out as ephemeral ports)"
  echo "${current:+$current,}60600-60639" > "$reserved" || echo "[setup] could not reserve them" >&2
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
# packaging/constraints.txt pins the verified environment (server side included);
# QS_GUI_CONSTRAINTS=none installs the newest releases instead, to try them before re-pinning.
CONSTRAINTS="${QS_GUI_CONSTRAINTS:-packaging/constraints.txt}"
pin=()
if [ "$CONSTRAINTS" != "none" ]; then
  pin=(-c "$CONSTRAINTS")
fi
stamp=".venv/.qs-gui-${EXTRA}-$(cat pyproject.toml "${pin[@]:1}" | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing qs-gui[$EXTRA] into .venv (first run takes about a minute)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "${pin[@]}" -e ".[$EXTRA]"
  touch "$stamp"
fi
