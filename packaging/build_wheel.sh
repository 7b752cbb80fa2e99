#!/usr/bin/env bash
# Build the sdist and the wheel (isolated, the wheel from the sdist) into dist/ and check that
# the wheel carries the resources and the qs-gui entry point.
#
#   packaging/build_wheel.sh [OUTDIR]     # default dist/; PYTHON=... to pick the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${1:-dist}"

if ! "$PY" -c "import build" 2>/dev/null; then
  echo "build_wheel: 'build' is missing; run: $PY -m pip install -e '.[packaging]'" >&2
  exit 2
fi
"$PY" -m build --outdir "$OUT" .
version="$("$PY" -c 'import qs_gui; print(qs_gui.__version__)')"
wheel="$OUT/qs_gui-$version-py3-none-any.whl"
[ -f "$wheel" ] || { echo "build_wheel: FAIL: no $wheel" >&2; exit 1; }
"$PY" - "$wheel" <<'PYEOF'
import sys
import zipfile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as zf:
    names = set(zf.namelist())
    entry_points = next((zf.read(n).decode() for n in names if n.endswith("entry_points.txt")), "")
need = ["qs_gui/resources/qs-gui.qss", "qs_gui/resources/qs-gui.desktop",
        "qs_gui/resources/icons/hicolor/scalable/apps/qs-gui.svg"]
need += [f"qs_gui/resources/icons/hicolor/{s}x{s}/apps/qs-gui.png" for s in (16, 32, 48, 64, 128, 256)]
missing = [n for n in need if n not in names]
if missing or "qs-gui = qs_gui.app:main" not in entry_points:
    sys.exit(f"build_wheel: FAIL: missing {missing or 'the qs-gui entry point'} in {wheel}")
print(f"ok: {wheel} ({len(names)} files, resources and entry point present)")
PYEOF
