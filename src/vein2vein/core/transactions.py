"""Where a service stands in a transaction, through Django's public API only.

`transaction.atomic(durable=True)` refuses to open inside another non-test atomic block and
ignores the blocks a TestCase wraps around each test, so an empty durable probe tells whether
a service transaction is already open, on a server and in tests alike.
"""

from __future__ import annotations

from django.db import connection, transaction


def in_service_transaction() -> bool:
    """Inside an atomic block other than the ones a test case wraps around each test."""
    if not connection.in_atomic_block:
        return False
    try:
        with transaction.atomic(durable=True):
            pass
    except RuntimeError:
        return True
    return False
