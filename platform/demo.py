"""Load the whole demo: each feature adds its part in order."""
from __future__ import annotations

# Feature loaders in dependency order; each is idempotent and returns a dict of counts.
LOADERS = ["camnet.tenants.demo:load_summary", "camnet.streams.demo:load",
           "camnet.billing_socialization.demo:load", "camnet.incidents.demo:load"]


def load_all() -> dict:
    import importlib

    summary: dict = {}
    for spec in LOADERS:
        module, func = spec.split(":")
        loader = getattr(importlib.import_module(module), func)
        summary.update(loader() or {})
    return summary
