"""Hook receivers: training reacts to documents (see core/hooks.py).

Registered when the app is ready (TrainingConfig.ready imports this module). Each runs inside
the emitting service's transaction: if it fails, the document does not become effective.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vein2vein.core import hooks
from vein2vein.core.models import User

if TYPE_CHECKING:
    from vein2vein.documents.models import DocumentVersion


@hooks.on(hooks.DOCUMENT_VERSION_EFFECTIVE)
def assign_read_and_understood(
    *, version: DocumentVersion, actor: User | None = None, **_: Any
) -> None:
    """A new effective version: everyone whose curriculum lists the document must read it."""
    from .services import assign_version

    assign_version(version=version, actor=actor)
