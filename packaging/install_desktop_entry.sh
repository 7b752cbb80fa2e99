#!/usr/bin/env bash
# Add qs-gui to the desktop menu of the current user (freedesktop: $XDG_DATA_HOME, default
# ~/.local/share), from the resources of an installed qs-gui. Pip cannot install menu entries.
#
#   packaging/install_desktop_entry.sh [PYTHON]    # the Python that has qs-gui, e.g. .venv/bin/python
#
# When the qs-gui launcher sits next to that Python (a venv), the entry runs it by full path, so
# it works without the venv on PATH.
set -euo pipefail
PY="${1:-python3}"
res="$("$PY" -c 'import importlib.resources as r; print(r.files("qs_gui") / "resources")')"
[ -f "$res/qs-gui.desktop" ] || { echo "no qs-gui resources found with $PY" >&2; exit 2; }
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons"
cp -r "$res/icons/hicolor" "$data/icons/"
exec_cmd="qs-gui"
launcher="$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")/qs-gui"
[ -x "$launcher" ] && exec_cmd="$launcher"
sed "s|^Exec=qs-gui$|Exec=$exec_cmd|" "$res/qs-gui.desktop" > "$data/applications/qs-gui.desktop"
chmod 644 "$data/applications/qs-gui.desktop"
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q "$data/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
  gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
fi
echo "installed $data/applications/qs-gui.desktop (Exec=$exec_cmd) and icons in $data/icons/hicolor"
