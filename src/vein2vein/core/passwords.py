"""The password hasher: Argon2id at OWASP's minimum configuration (docs/adr/0003)."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """19 MiB, 2 passes, 1 lane. Every signature re-checks a password, so Django's 100 MiB,
    8-lane default cost a web worker 0.3 s and 100 MiB each time. Same algorithm name:
    existing hashes verify and are re-hashed at these parameters on the next login."""

    time_cost = 2
    memory_cost = 19_456  # KiB
    parallelism = 1
