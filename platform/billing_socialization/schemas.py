"""Request bodies of the funding API: amounts are strict integers of đồng (no floats, no strings)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from ..schemas import DbId
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .ledger import MAX_AMOUNT
from .models import EXPENSE_KINDS, IN_KIND_TYPES, RECEIPT_METHODS, SPONSOR_KINDS

# strict: 1.5, 2.0, "100" and true are refused; bounds refuse zero, negative and absurd amounts
Amount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT, description="Số tiền, đồng nguyên / whole đồng")]
SignedAmount = Annotated[int, Field(strict=True, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_future(value: date | None, field: str, slack_days: int = 1) -> date | None:
    if value is not None and value > date.today() + timedelta(days=slack_days):
        raise ValueError(f"{field} is in the future")
    if value is not None and value < date(2000, 1, 1):
        raise ValueError(f"{field} is before 2000")
    return value


def _due(value: date) -> date:
    if value > date.today() + timedelta(days=3660):
        raise ValueError("due date more than ten years ahead")
    if value < date(2000, 1, 1):
        raise ValueError("due date before 2000")
    return value


DueDate = Annotated[date, AfterValidator(_due)]


class SponsorIn(Strict):
    name: str = Field(..., min_length=1, max_length=200)
    kind: Literal[SPONSOR_KINDS] = Field(..., description="company, organisation, household, budget")  # type: ignore[valid-type]
    contact: str | None = Field(None, max_length=200)
    tax_code: str | None = Field(None, max_length=20)


class PhaseIn(Strict):
    name: str = Field(..., min_length=1, max_length=120)
    target: Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)] = 0
    cameras_planned: int = Field(0, ge=0, le=100_000)
    starts_on: date | None = None


class PledgeIn(Strict):
    amount: Amount
    due_date: DueDate
    phase_id: DbId | None = None
    note: str | None = Field(None, max_length=500)
    pledged_on: date | None = None

    @field_validator("pledged_on")
    @classmethod
    def _pledged(cls, v):
        return _not_future(v, "pledged_on")


class ReceiptIn(Strict):
    idempotency_key: str = Field(..., min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    amount: Amount
    method: Literal[RECEIPT_METHODS]  # type: ignore[valid-type]
    sponsor_id: DbId | None = None
    pledge_id: DbId | None = None
    share_id: DbId | None = None
    phase_id: DbId | None = None
    received_on: date | None = None
    in_kind_type: Literal[IN_KIND_TYPES] | None = None  # type: ignore[valid-type]
    description: str | None = Field(None, max_length=500)
    payer_name: str | None = Field(None, max_length=200)

    @field_validator("received_on")
    @classmethod
    def _received(cls, v):
        return _not_future(v, "received_on")

    @model_validator(mode="after")
    def _shape(self):
        given = [n for n in ("sponsor_id", "pledge_id", "share_id") if getattr(self, n) is not None]
        if not given:
            raise ValueError("sponsor_id, pledge_id or share_id is required")
        if self.share_id is not None and len(given) > 1:
            raise ValueError("share_id excludes sponsor_id and pledge_id")
        if self.method == "in_kind" and (not self.in_kind_type or not self.description):
            raise ValueError("in_kind receipts need in_kind_type and description (what was given)")
        if self.method != "in_kind" and self.in_kind_type:
            raise ValueError("in_kind_type is only for in_kind receipts")
        return self


class ReverseIn(Strict):
    reason: str = Field(..., min_length=3, max_length=300)


class HouseholdIn(Strict):
    household_ref: str = Field(..., min_length=1, max_length=80)
    head_name: str = Field(..., min_length=1, max_length=200)
    village_id: DbId


class CampaignIn(Strict):
    name: str = Field(..., min_length=1, max_length=200)
    amount_per_household: Amount
    due_date: DueDate
    phase_id: DbId | None = None
    households: list[HouseholdIn] = Field(default_factory=list, max_length=20_000)


class ExpenseIn(Strict):
    idempotency_key: str | None = Field(None, min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal[EXPENSE_KINDS]  # type: ignore[valid-type]
    supplier: str = Field(..., min_length=1, max_length=200)
    invoice_no: str = Field(..., min_length=1, max_length=60)
    amount: Amount
    paid_from: Literal["cash", "bank"] = "bank"
    spent_on: date | None = None
    phase_id: DbId | None = None
    camera_id: DbId | None = None
    description: str | None = Field(None, max_length=500)

    @field_validator("spent_on")
    @classmethod
    def _spent(cls, v):
        return _not_future(v, "spent_on")


class AllocationIn(Strict):
    sponsor_id: DbId
    amount: Amount
    phase_id: DbId | None = None
    camera_id: DbId | None = None
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _target(self):
        if (self.phase_id is None) == (self.camera_id is None):
            raise ValueError("give exactly one of phase_id or camera_id")
        return self


class PostingIn(Strict):
    account: str = Field(..., min_length=1, max_length=40)
    amount: SignedAmount


class JournalIn(Strict):
    """A manual adjustment by the chairman: two or more postings that balance."""

    memo: str = Field(..., min_length=3, max_length=500)
    occurred_on: date | None = None
    phase_id: DbId | None = None
    postings: list[PostingIn] = Field(..., min_length=2, max_length=50)

    @field_validator("occurred_on")
    @classmethod
    def _occurred(cls, v):
        return _not_future(v, "occurred_on")


class ReportQuery(Strict):
    lang: Literal["vi", "en"] | None = None


class VerifyQuery(Strict):
    seq: int | None = Field(None, ge=1, description="Kiểm tra một mã băm cũ / check an old head: seq")
    hash: str | None = Field(None, min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
