"""Django admin: read-only views of batch records; every change goes through the services."""

from vein2vein.core.admin import register_read_only

register_read_only("manufacturing")
