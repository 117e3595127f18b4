"""The service-transaction probe uses Django's public durable check, not `_from_testcase`."""

from __future__ import annotations

import pytest
from django.db import transaction

from vein2vein.core.transactions import in_service_transaction


@pytest.mark.django_db
def test_test_case_wrapper_is_not_a_service_transaction() -> None:
    assert in_service_transaction() is False


@pytest.mark.django_db
def test_inside_an_atomic_block_is_a_service_transaction() -> None:
    with transaction.atomic():
        assert in_service_transaction() is True
    assert in_service_transaction() is False
