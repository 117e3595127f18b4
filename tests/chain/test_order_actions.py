"""The order actions table (choices.ORDER_ACTIONS) agrees with the order's state machine: an
action is allowed only in statuses from which the stage it leads to is a transition. The
services refuse and the order page offers from that one table (tests of each refusal are in
test_scheduling, test_collection and test_custody)."""

from __future__ import annotations

import pytest

from vein2vein.chain.choices import (
    ORDER_ACTIONS,
    ORDER_TRANSITIONS,
    OrderAction,
    OrderStatus,
    order_allows,
)

S = OrderStatus
LEADS_TO = {
    OrderAction.BOOK: {S.SCHEDULED},
    OrderAction.RESCHEDULE: {S.SCHEDULED, S.ORDERED},  # a new day, or the booking cancelled
    OrderAction.COLLECT: {S.COLLECTED},
    OrderAction.RECEIVE: {S.RECEIVED},
}


@pytest.mark.parametrize("action", sorted(LEADS_TO))
def test_an_action_is_allowed_only_where_its_stage_is_a_transition(action: str) -> None:
    for status in ORDER_ACTIONS[action]:
        assert LEADS_TO[action] <= ORDER_TRANSITIONS[status], (action, status)


def test_every_action_has_its_statuses_and_no_action_is_allowed_after_the_end() -> None:
    assert set(ORDER_ACTIONS) == set(OrderAction.values)
    for status in (S.INFUSED, S.REJECTED, S.CANCELLED):
        assert not any(order_allows(a, status) for a in OrderAction.values), status
