"""Which funding record is whose: the commune's readers see all, a sponsor its own, a household its shares.

The permission checks themselves are ``tenants.access``; this module holds the data rules on top.
"""
from __future__ import annotations

import functools

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import bindparam, select

from ..errors import NotFoundError
from ..extensions import db
from ..tenants.access import may

READ, MANAGE, SPONSOR_OWN, HOUSEHOLD_OWN = "funding.read", "funding.manage", "sponsor.own", "household.own"


def _user_attr(name: str):
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return getattr(current_user, name, None)
    return None


def user_sponsor_id() -> int | None:
    return _user_attr("sponsor_id")


def user_household_ref() -> str | None:
    return _user_attr("household_ref")


def user_id() -> int | None:
    return _user_attr("id")


def own_sponsor(sponsor) -> bool:
    return (may(SPONSOR_OWN, sponsor.commune_id) and sponsor.id is not None
            and user_sponsor_id() == sponsor.id)


def own_household(commune_id: int, household_ref: str | None) -> bool:
    ref = user_household_ref()
    return bool(ref) and ref == household_ref and may(HOUSEHOLD_OWN, commune_id)


def load(model, object_id: int):
    row = db.session.execute(_load_statement(model), {"id": object_id}).scalar_one_or_none()
    if row is None:
        raise NotFoundError()
    return row


@functools.lru_cache(maxsize=64)
def _load_statement(model):
    return select(model).where(model.id == bindparam("id"))


def sponsor_for_read(sponsor_id: int):
    from .models import Sponsor

    return readable_sponsor(load(Sponsor, sponsor_id))


def readable_sponsor(row):
    """``row`` (a sponsor, or a row with its id and commune_id) when the commune's readers or the
    sponsor itself ask; 404 otherwise."""
    if may(READ, row.commune_id) or own_sponsor(row):
        return row
    raise NotFoundError()


def receipt_for_read(receipt_id: int):
    from .models import HouseholdShare, Receipt

    row = load(Receipt, receipt_id)
    if may(READ, row.commune_id):
        return row
    if row.sponsor_id is not None and user_sponsor_id() == row.sponsor_id and may(SPONSOR_OWN, row.commune_id):
        return row
    if row.share_id is not None:
        share = db.session.get(HouseholdShare, row.share_id)
        if share is not None and own_household(row.commune_id, share.household_ref):
            return row
    raise NotFoundError()
