"""Deployment settings: `check --deploy` is clean with the production variables set."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.core.helpers import DEMO_USERNAMES

VEIN2VEIN = Path(sys.executable).with_name("vein2vein")
ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    skip = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in skip}
    return subprocess.run(
        [str(VEIN2VEIN), *args],
        env={**base, "VEIN2VEIN_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_behind_tls(tmp_path):
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {"VEIN2VEIN_HTTPS": "1", "SECRET_KEY": secrets.token_urlsafe(60)},
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_warns_without_tls(tmp_path):
    """The same check does fail when TLS settings are off: the test above can fail."""
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], {}, tmp_path)
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout


def test_console_script_migrates_and_the_demo_is_idempotent_and_prints_logins(tmp_path):
    """One fresh data directory (one migrate) for the console script, verify and the demo."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    fast = {"DJANGO_SETTINGS_MODULE": "tests.subprocess_settings", "PYTHONPATH": path}
    result = _run(["migrate", "--check"], fast, tmp_path)
    # A fresh data dir has unapplied migrations: the command ran and said so (exit 1).
    assert result.returncode == 1
    migrated = _run(["migrate", "-v", "0"], fast, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    verify = _run(["audit", "verify"], fast, tmp_path)
    assert verify.returncode == 0 and verify.stdout.startswith("OK 0 events")
    first = _run(["demo"], fast, tmp_path)
    assert first.returncode == 0, first.stderr
    for username in DEMO_USERNAMES:
        assert f"  {username} " in first.stdout
    count_after_first = _run(["audit", "verify"], fast, tmp_path).stdout
    second = _run(["demo"], fast, tmp_path)
    assert second.returncode == 0, second.stderr
    assert _run(["audit", "verify"], fast, tmp_path).stdout == count_after_first
