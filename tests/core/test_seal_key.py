"""The seal key is created once, whole, however many processes start at once (docs/adr/0002).

A clean checkout's first test run starts two workers with no key file: one created the file,
the other read it before the key was written and failed with "empty or too short"."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from vein2vein.core import sealing

PROCESSES = 8


def _read_key(path: str, start: object) -> bytes:
    start.wait()  # type: ignore[attr-defined]
    return sealing._key_at.__wrapped__(path)


def test_processes_starting_at_once_agree_on_one_whole_key(tmp_path: Path) -> None:
    path = str(tmp_path / "keys" / "audit_seal.key")
    for _ in range(5):  # the window was small: try a few fresh starts
        Path(path).unlink(missing_ok=True)
        ctx = multiprocessing.get_context("fork")
        with ctx.Manager() as manager:
            start = manager.Barrier(PROCESSES)
            with ctx.Pool(PROCESSES) as pool:
                keys = pool.starmap(_read_key, [(path, start)] * PROCESSES)
        assert len(set(keys)) == 1 and len(keys[0]) == 64
        assert Path(path).read_text().strip().encode() == keys[0]
        assert sorted(p.name for p in Path(path).parent.iterdir()) == ["audit_seal.key"]
        assert Path(path).stat().st_mode & 0o777 == 0o600
