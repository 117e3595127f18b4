"""The import contract (.importlinter) holds, and it is not a contract that cannot fail: an
upward import, or a page reading another app's models, breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / ".importlinter")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contract")
    shutil.copytree(
        ROOT / "src" / "vein2vein",
        root / "src" / "vein2vein",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "*.yaml", "*.json"),
    )
    shutil.copy(ROOT / ".importlinter", root / ".importlinter")
    return root


def test_the_tree_keeps_the_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_it(copy_of_tree: Path) -> None:
    upward = copy_of_tree / "src" / "vein2vein" / "core" / "_upward.py"
    upward.write_text("from vein2vein.manufacturing import services  # noqa: F401\n")
    try:
        result = _lint(copy_of_tree)
    finally:
        upward.unlink()
    assert result.returncode != 0
    assert "vein2vein.core._upward -> vein2vein.manufacturing" in result.stdout


def test_a_page_reading_another_apps_models_breaks_it(copy_of_tree: Path) -> None:
    page = copy_of_tree / "src" / "vein2vein" / "manufacturing" / "_page.py"
    page.write_text("from vein2vein.quality.models import Deviation  # noqa: F401\n")
    try:
        result = _lint(copy_of_tree)
    finally:
        page.unlink()
    assert result.returncode != 0
    assert "vein2vein.manufacturing._page -> vein2vein.quality.models" in result.stdout
