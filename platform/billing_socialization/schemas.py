"""Request bodies of the funding API: amounts are strict integers of đồng (no floats, no strings)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from ..names import HumanName
from ..schemas import DbId, Out
from pydantic import AfterValidator, AliasPath, BeforeValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

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
    name: HumanName = Field(..., min_length=1, max_length=200)
    kind: Literal[SPONSOR_KINDS] = Field(..., description="company, organisation, household, budget")  # type: ignore[valid-type]
    contact: HumanName | None = Field(None, max_length=200)
    tax_code: str | None = Field(None, max_length=20)


class PhaseIn(Strict):
    name: HumanName = Field(..., min_length=1, max_length=120)
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
    payer_name: HumanName | None = Field(None, max_length=200)

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
    household_ref: HumanName = Field(..., min_length=1, max_length=80)
    head_name: HumanName = Field(..., min_length=1, max_length=200)
    village_id: DbId


class CampaignIn(Strict):
    name: HumanName = Field(..., min_length=1, max_length=200)
    amount_per_household: Amount
    due_date: DueDate
    phase_id: DbId | None = None
    households: list[HouseholdIn] = Field(default_factory=list, max_length=20_000)


class ExpenseIn(Strict):
    idempotency_key: str | None = Field(None, min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal[EXPENSE_KINDS]  # type: ignore[valid-type]
    supplier: HumanName = Field(..., min_length=1, max_length=200)
    invoice_no: HumanName = Field(..., min_length=1, max_length=60)
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


# ---- responses: amounts are whole đồng --------------------------------------------------------

# Read from ``reversed_by_id``: whether a reversing transaction cancelled this one.
Reversed = Annotated[bool, BeforeValidator(lambda reversed_by_id: reversed_by_id is not None)]


class SponsorOut(Out):
    id: int
    commune_id: int
    name: str
    kind: str
    contact: str | None
    tax_code: str | None


class PledgeOut(Out):
    id: int
    commune_id: int
    sponsor_id: int
    phase_id: int | None
    amount: int
    paid: int
    due_date: date | None
    status: str
    note: str | None
    transaction_id: int | None


class SponsorDetail(SponsorOut):
    pledges: list[PledgeOut]


class PhaseCreated(Out):
    id: int
    name: str
    target: int


class PhaseOut(PhaseCreated):
    cameras_planned: int
    starts_on: date | None


class ReceiptOut(Out):
    id: int
    commune_id: int
    number: str | None
    idempotency_key: str | None
    sponsor_id: int | None
    pledge_id: int | None
    share_id: int | None
    phase_id: int | None
    method: str
    amount: int
    in_kind_type: str | None
    description: str | None
    payer_name: str | None
    received_on: date | None
    transaction_id: int | None
    reversed: Reversed = Field(False, validation_alias="reversed_by_id")


class CampaignCreated(Out):
    id: int
    name: str


class CampaignOut(CampaignCreated):
    amount_per_household: int
    due_date: date | None
    phase_id: int | None


class ShareOut(Out):
    id: int
    household_ref: str
    head_name: str
    village: str
    amount_due: int
    paid: int
    state: Literal["paid", "arrears", "pending"]


class CampaignStatusOut(Out):
    id: int
    commune_id: int
    name: str
    amount_per_household: int
    due_date: date
    phase_id: int | None
    households: int
    paid: list[ShareOut]
    arrears: list[ShareOut]
    pending: list[ShareOut]


class ShareReceiptOut(Out):
    id: int
    number: str | None
    amount: int
    received_on: date


class FundedCameraOut(Out):
    code: str
    name: str
    status: str
    uptime_30d: float | None = Field(None, description="Good checks over checks in 30 days")


class ShareProgressOut(Out):
    households: int
    paid_in_full: int


class MyShareOut(Out):
    """A household's own share, and what its campaign funds (counts only, no neighbour's name)."""

    share_id: int
    campaign: str
    amount_due: int
    paid: int
    due_date: date
    state: Literal["paid", "arrears", "pending"]
    receipts: list[ShareReceiptOut]
    progress: ShareProgressOut
    phase: str | None
    cameras: list[FundedCameraOut]
    incidents: list[dict[str, Any]]


class ExpenseOut(Out):
    id: int
    commune_id: int
    kind: str
    supplier: str
    invoice_no: str
    amount: int
    paid_from: str
    spent_on: date | None
    phase_id: int | None
    camera_id: int | None
    description: str | None
    attachment: str | None = Field(None, validation_alias="attachment_name")
    transaction_id: int | None
    reversed: Reversed = Field(False, validation_alias="reversed_by_id")


class AllocationCreated(Out):
    id: int
    sponsor_id: int
    phase_id: int | None
    camera_id: int | None
    amount: int


class AllocationOut(AllocationCreated):
    note: str | None


class FundingSourceOut(Out):
    sponsor_id: int
    sponsor: str
    amount: int
    via: str = Field(..., description='"camera", or "phase:<name>" (the phase\'s share per camera)')


class CameraFundingOut(Out):
    camera_id: int
    code: str
    name: str
    funded_by: list[FundingSourceOut]
    total: int


class BalanceDifferenceOut(Out):
    account_id: int
    phase_key: int
    postings: int
    cache: int


class AccountOut(Out):
    id: int
    code: str
    name: str
    type: str
    kind: str | None
    balance: int


class AccountsOut(Out):
    accounts: list[AccountOut]
    cache_differences: list[BalanceDifferenceOut]


class PostingOut(Out):
    line: int
    account: str = Field(..., validation_alias=AliasPath("account", "code"))
    amount: int


class TransactionOut(Out):
    id: int
    seq: int
    kind: str
    occurred_on: date | None
    memo: str | None
    phase_id: int | None
    ref_type: str | None
    ref_id: int | None
    reverses_seq: int | None
    prev_hash: str
    hash: str
    postings: list[PostingOut]


class BrokenLinkOut(Out):
    seq: int
    id: int
    reason: str


class HashCheckOut(Out):
    seq: int
    hash: str | None
    matches: bool


class VerifyOut(Out):
    commune_id: int
    ok: bool
    transactions: int
    postings: int
    head_seq: int
    head_hash: str | None
    first_broken: BrokenLinkOut | None
    cache_differences: list[BalanceDifferenceOut]
    checked: HashCheckOut | None = None


class CommuneRef(Out):
    id: int
    name: str


class CommuneCoded(CommuneRef):
    code: str


class PhaseProgressOut(Out):
    id: int | None
    name: str | None
    target: int
    cameras_planned: int
    raised: int
    budget: int
    socialised: int
    spent: int
    progress: float | None


class VillageSharesOut(Out):
    village_id: int
    village: str
    households: int
    paid: int
    arrears: int
    pending: int
    due: int
    collected: int


class ChairmanReportOut(Out):
    commune: CommuneCoded
    target: int
    raised: int
    budget: int
    socialised: int
    by_source: dict[str, int]
    spent: int
    balance: int
    cash: int
    bank: int
    outstanding_pledges: int
    by_phase: list[PhaseProgressOut]
    by_village: list[VillageSharesOut]
    spending_by_kind: dict[str, int]
    sponsors: int
    head_seq: int
    head_hash: str | None


class SponsorRefOut(Out):
    id: int
    name: str
    kind: str
    commune_id: int
    commune: str


class SponsorPledgeOut(Out):
    id: int
    amount: int
    paid: int
    due_date: date | None
    status: str


class SponsorReceiptOut(Out):
    id: int
    number: str | None
    amount: int
    method: str
    received_on: date | None
    description: str | None
    reversed: bool


class SponsorAllocationOut(Out):
    id: int
    amount: int
    phase: str | None
    camera_id: int | None
    camera_code: str | None
    note: str | None


class SponsorCameraOut(Out):
    id: int
    code: str
    name: str
    status: str
    uptime_30d: float | None


class SponsorReportOut(Out):
    sponsor: SponsorRefOut
    pledged: int
    paid: int
    outstanding: int
    allocated: int
    unallocated: int
    pledges: list[SponsorPledgeOut]
    receipts: list[SponsorReceiptOut]
    allocations: list[SponsorAllocationOut]
    cameras: list[SponsorCameraOut]
    incidents: list[dict[str, Any]] = Field(..., description="Cases the funded cameras helped with")
    head_seq: int
    head_hash: str | None
    generated_on: date


class PublicPhaseOut(Out):
    name: str | None
    target: int
    raised: int
    spent: int
    cameras_planned: int


class PublicSponsorOut(Out):
    name: str
    kind: str


class PublicReportOut(Out):
    """Aggregates only: no household's name, reference or payment (Luật BVDLCN 91/2025)."""

    commune: CommuneRef
    target: int
    raised: int
    budget: int
    socialised: int
    spent: int
    balance: int
    by_phase: list[PublicPhaseOut]
    spending_by_kind: dict[str, int]
    households_total: int
    households_paid: int
    sponsors: list[PublicSponsorOut]
    head_seq: int
    head_hash: str | None
