"""Every feature's models, imported so the metadata (and Alembic) sees them all."""
from .billing_socialization import models as billing  # noqa: F401
from .incidents import models as incidents  # noqa: F401
from .streams import models as streams  # noqa: F401
from .tenants import models as tenants  # noqa: F401
