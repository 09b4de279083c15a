"""The wheel and sdist a release would upload: every subpackage, the metadata PyPI shows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import snaprun

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it (as `python -m build` does for a release)."""
    # From a copy without the editable install's egg-info: its stale file list would put
    # into the sdist what the package settings leave out.
    source = tmp_path_factory.mktemp("source") / "snaprun"
    shutil.copytree(ROOT, source, ignore=_not_packaged)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return out


def _not_packaged(directory: str, names: list[str]) -> set[str]:
    skipped = (
        {"build", "__pycache__", "cassettes", "__snapshots__"} if directory == str(ROOT) else set()
    )
    return {n for n in names if n.startswith(".") or n.endswith(".egg-info") or n in skipped}


def _wheel(dist: Path) -> zipfile.ZipFile:
    (wheel,) = dist.glob("snaprun-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_wheel_holds_every_module_of_the_source_tree(dist: Path) -> None:
    names = set(_wheel(dist).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "snaprun").rglob("*.py")}
    assert len(modules) > 30
    assert modules - names == set()
    assert "snaprun/py.typed" in names


def test_the_wheel_declares_the_plugin_the_command_and_the_metadata(dist: Path) -> None:
    wheel = _wheel(dist)
    info = f"snaprun-{snaprun.__version__}.dist-info"
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "[pytest11]\nsnaprun = snaprun.plugin" in entry_points
    assert "[console_scripts]\nsnaprun = snaprun.cli:main" in entry_points
    metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    assert metadata["Version"] == snaprun.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Author"] == "The snaprun developers"
    assert "Framework :: Pytest" in metadata.get_all("Classifier")
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Issues", "Changelog"}
    assert f"{info}/licenses/LICENSE" in wheel.namelist()


def test_the_sdist_holds_the_license_and_the_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("snaprun-*.tar.gz")
    top = f"snaprun-{snaprun.__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    assert {f"{top}/LICENSE", f"{top}/CHANGELOG.md", f"{top}/README.md"} <= names


def test_twine_accepts_both(dist: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_python_m_snaprun_is_the_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "snaprun", "--version"], capture_output=True, text=True
    )
    assert run.stdout == f"snaprun, version {snaprun.__version__}\n"
