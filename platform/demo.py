"""Load the whole demo: each feature adds its part in order."""
from __future__ import annotations


def load_all() -> dict:
    """Feature loaders in dependency order; each is idempotent and returns a dict of counts."""
    from .billing_socialization import demo as funding
    from .capture import demo as capture
    from .incidents import demo as incidents
    from .streams import demo as streams
    from .tenants import demo as tenants

    summary: dict = {}
    for loader in (tenants.load_summary, streams.load, capture.load, funding.load, incidents.load):
        summary.update(loader() or {})
    return summary
