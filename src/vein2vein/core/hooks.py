"""In-process domain events, so a lower app can announce and a higher app react in the same
transaction without the lower one importing the higher (DESIGN.md: apps depend downward).

Not Django signals: a hook is emitted explicitly by a service, inside that service's
`transaction.atomic()`, and every receiver is itself a service that writes its own audit
events. A receiver that raises rolls the whole change back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Receiver = Callable[..., None]
_receivers: dict[str, list[Receiver]] = defaultdict(list)

# The events apps emit, with the keyword arguments they pass.
DOCUMENT_VERSION_EFFECTIVE = (
    "documents.version_effective"  # version=DocumentVersion, actor=User|None
)
DOCUMENT_VERSION_SUBMITTED = (
    "documents.version_submitted"  # version=DocumentVersion, actor=User (content frozen now)
)


def on(event: str) -> Callable[[Receiver], Receiver]:
    """Register a receiver (call from the receiving app's AppConfig.ready)."""

    def register(fn: Receiver) -> Receiver:
        if fn not in _receivers[event]:
            _receivers[event].append(fn)
        return fn

    return register


def emit(event: str, **kwargs: Any) -> None:
    """Call every receiver of `event` in registration order, in the caller's transaction."""
    for fn in list(_receivers[event]):
        fn(**kwargs)


def receivers(event: str) -> list[Receiver]:
    return list(_receivers[event])
