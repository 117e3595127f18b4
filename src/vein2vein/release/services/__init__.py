"""Every write of release. Views, the API, commands and the demo call these."""

from .. import permissions as _permissions  # noqa: F401 - registers the release permissions
from .certificates import generate_certificate
from .dispositions import dispose

__all__ = ["dispose", "generate_certificate"]
