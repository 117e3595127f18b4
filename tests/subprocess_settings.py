"""Settings for the console-script tests that run `vein2vein migrate` and `vein2vein demo` in a
subprocess: production settings with a fast password hasher. The demo signs 128 times, and each
signature re-checks a password; with Argon2 that is 20 s of hashing per demo run. Argon2 as the
production hasher is proved by tests/core/test_lockout.py."""

from vein2vein.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
