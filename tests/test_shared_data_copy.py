"""The copies of ../shared/data in tests/data (ISBT 128 vectors, cell-counter exports, FCS and
Gating-ML files with their expected results) are byte for byte the shared ones, and complete.
They are copied so the tests run wherever the repository is checked out (CI included); where
../shared is next to the checkout, this proves nobody edited a copy."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FOLDERS = ("isbt128", "cell_counters", "flow")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not next to this checkout")
@pytest.mark.parametrize("folder", FOLDERS)
def test_every_shared_file_is_copied_unchanged(folder: str) -> None:
    shared = set(_files(SHARED / folder))
    copied = set(_files(DATA / folder)) - ({"README.md"} - shared)  # our README is ours
    assert copied == shared
    changed = [
        n
        for n in sorted(shared)
        if (DATA / folder / n).read_bytes() != (SHARED / folder / n).read_bytes()
    ]
    assert not changed, changed


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_copies_are_there(folder: str) -> None:
    assert len(_files(DATA / folder)) >= 3
