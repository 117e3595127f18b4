"""The copied ISBT 128 vectors (tests/data/isbt128) are byte for byte the shared ones."""

from __future__ import annotations

from pathlib import Path

import pytest

COPY = Path(__file__).resolve().parents[1] / "data" / "isbt128"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "isbt128"
NAMES = ("mod37_2_vectors.csv", "mod37_2_invalid.csv", "structures.csv")


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not next to this checkout")
@pytest.mark.parametrize("name", NAMES)
def test_the_copy_is_the_shared_file(name: str) -> None:
    assert (COPY / name).read_bytes() == (SHARED / name).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_the_copy_is_there(name: str) -> None:
    assert (COPY / name).stat().st_size > 100
