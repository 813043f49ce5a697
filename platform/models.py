"""Every feature's models, imported so the metadata (and Alembic) sees them all."""
from .streams import models as streams  # noqa: F401
from .tenants import models as tenants  # noqa: F401
