"""Request bodies and query strings of the incidents API (pydantic: one source for checks and OpenAPI)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from ..names import HumanName
from ..schemas import ApiTime, DbId, Out
from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Status = Literal["open", "investigating", "resolved", "referred"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CategoryIn(_In):
    code: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9_]+$")
    label_vi: HumanName = Field(min_length=1, max_length=120)
    label_en: HumanName = Field(min_length=1, max_length=120)
    color: str = Field(default="#607d8b", pattern=r"^#[0-9a-fA-F]{6}$")
    sort_order: int = 0


class CategoryUpdate(_In):
    label_vi: HumanName | None = Field(default=None, min_length=1, max_length=120)
    label_en: HumanName | None = Field(default=None, min_length=1, max_length=120)
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    sort_order: int | None = None
    active: bool | None = None


class IncidentIn(_In):
    commune_id: DbId
    category: str = Field(min_length=1, max_length=40, description="category code, e.g. theft")
    title: HumanName = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=10000)
    occurred_at: datetime = Field(description="naive times are Vietnam time (UTC+7)")
    village_id: DbId | None = None
    road: HumanName | None = Field(default=None, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    camera_ids: list[DbId] = Field(default_factory=list, max_length=50)
    status: Status = "open"
    clarified_by_camera: bool = False
    people_identified: int = Field(default=0, ge=0, le=10000)
    property_recovered_vnd: int = Field(default=0, ge=0, le=10**15)


class IncidentUpdate(_In):
    category: str | None = Field(default=None, min_length=1, max_length=40)
    title: HumanName | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    occurred_at: datetime | None = None
    village_id: DbId | None = None
    road: HumanName | None = Field(default=None, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    camera_ids: list[DbId] | None = Field(default=None, max_length=50)
    status: Status | None = None
    clarified_by_camera: bool | None = None
    people_identified: int | None = Field(default=None, ge=0, le=10000)
    property_recovered_vnd: int | None = Field(default=None, ge=0, le=10**15)


class EvidenceIn(_In):
    kind: Literal["snapshot", "clip"]
    item_id: DbId = Field(description="the snapshot's or clip's id")
    note: str | None = Field(default=None, max_length=300)


class ReasonIn(_In):
    reason: str = Field(min_length=5, max_length=500, description="why (kept in the audit log)")


class ReasonQuery(_In):
    reason: str = Field(min_length=5, max_length=500, description="why (kept in the audit log)")


class IncidentQuery(_In):
    commune_id: DbId | None = None
    date_from: date | None = None
    date_to: date | None = None
    category: str | None = Field(default=None, max_length=40)
    place: str | None = Field(default=None, max_length=200, description="village or road, part of the name")
    camera_id: DbId | None = None
    status: Status | None = None
    limit: int = Field(default=100, ge=1, le=500)

    @field_validator("commune_id", "camera_id", "date_from", "date_to", "category", "place", "status",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if value == "" else value


class OversightQuery(_In):
    unit_id: DbId | None = None


# ---- responses -----------------------------------------------------------------------------

class CategoryOut(Out):
    id: int
    code: str
    label_vi: str
    label_en: str
    color: str
    sort_order: int
    active: bool


class EvidenceOut(Out):
    """A snapshot or clip attached to an incident."""

    id: int
    kind: Literal["snapshot", "clip"]
    item_id: int
    camera_id: int
    captured_at: ApiTime | None
    size: int | None
    sha256: str | None
    note: str | None

    @model_validator(mode="before")
    @classmethod
    def _from_item(cls, e):
        if isinstance(e, dict):
            return e
        item = e.snapshot if e.kind == "snapshot" else e.clip
        return {"id": e.id, "kind": e.kind, "item_id": e.item_id, "camera_id": item.camera_id,
                "captured_at": e.snapshot.taken_at if e.kind == "snapshot" else e.clip.started_at,
                "size": item.size, "sha256": item.sha256, "note": e.note}


class IncidentSummaryOut(Out):
    """An incident as listed (and as written into an evidence archive's manifest)."""

    id: int
    commune_id: int
    category: str = Field(validation_alias=AliasPath("category", "code"))
    category_label: Annotated[list[str], BeforeValidator(lambda c: [c.label_vi, c.label_en])] = Field(
        validation_alias="category", description="[Vietnamese, English]")
    title: str
    description: str | None
    occurred_at: ApiTime
    village_id: int | None
    village: str | None = Field(None, validation_alias=AliasPath("village", "name"))
    road: str | None
    latitude: float | None
    longitude: float | None
    status: str
    clarified_by_camera: bool
    people_identified: int | None
    property_recovered_vnd: int | None
    camera_ids: Annotated[list[int], BeforeValidator(lambda cams: sorted(c.camera_id for c in cams))] = Field(
        validation_alias="cameras")
    closed_at: ApiTime | None


class IncidentOut(IncidentSummaryOut):
    evidence: list[EvidenceOut]


class ExportOut(Out):
    id: int
    incident_id: int
    status: str
    progress: int = Field(..., description="Phần trăm / percent done")
    files_total: int
    files_done: int
    size: int | None
    sha256: str | None
    error: str | None
    reason: str
    created_at: ApiTime | None


class ArchiveCheckOut(Out):
    """The verdict on an uploaded evidence archive: its files, its signature and the platform's record."""

    ok: bool
    verdict: str
    signature: str
    record: str
    log: str = Field("unlogged", description="match | mismatch | unlogged: the package against its transparency log entry")
    format: str | None
    export_id: int | None
    incident_id: int | None
    key_id: str | None
    files: list[dict[str, Any]]
    problems: list[str]
