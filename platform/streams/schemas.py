"""Request bodies and queries of the streams API (pydantic: validation and OpenAPI from one source)."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, ValidationInfo, computed_field, \
    field_validator, model_validator

from ..names import HumanName
from ..schemas import ApiTime, Out, UtcTimeIn
from . import registry
from .models import CAMERA_KINDS, CAMERA_STATUSES, CONSENT_SHARES, OWNERSHIPS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Row ids: an int column's range, so an absurd number is a 422 and never reaches the database.
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _pattern(values) -> str:
    return "^(" + "|".join(values) + ")$"


class ConsentIn(Strict):
    """Đồng ý chia sẻ: what the owner of a shared camera agrees to share, and since when."""

    shares: str = Field(..., pattern=_pattern(CONSENT_SHARES), description="live | snapshots | on_request")
    granted_by: HumanName = Field(..., min_length=1, max_length=200)
    since: date
    document_ref: HumanName | None = Field(None, max_length=200)


class CameraFields(Strict):
    name: HumanName | None = Field(None, min_length=1, max_length=200)
    village_id: Id | None = None
    road: HumanName | None = Field(None, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    direction: HumanName | None = Field(None, max_length=20)
    kind: str | None = Field(None, pattern=_pattern(CAMERA_KINDS))
    ownership: str | None = Field(None, pattern=_pattern(OWNERSHIPS))
    owner_name: HumanName | None = Field(None, max_length=200)
    owner_contact: str | None = Field(None, max_length=200)
    recorder: HumanName | None = Field(None, max_length=80)
    channel: int | None = Field(None, ge=0, le=1024)
    rtsp_main: str | None = Field(None, max_length=500)
    rtsp_sub: str | None = Field(None, max_length=500)
    snapshot_url: str | None = Field(None, max_length=500)
    mjpeg_url: str | None = Field(None, max_length=500)
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=200, description="Write-only; stored encrypted")
    install_date: date | None = None
    phase: HumanName | None = Field(None, max_length=40)
    status: str | None = Field(None, pattern=_pattern(CAMERA_STATUSES))
    capture_interval: int | None = Field(None, ge=10, le=86400)


class CameraIn(CameraFields):
    commune_id: Id
    code: HumanName = Field(..., min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name: HumanName = Field(..., min_length=1, max_length=200)
    consent: ConsentIn | None = None

    @model_validator(mode="after")
    def shared_needs_consent(self):
        if self.ownership in ("household", "business") and self.consent is None:
            raise ValueError("consent: a camera shared by a household or business needs a consent record")
        return self


class CameraUpdate(CameraFields):
    """Only the fields sent are changed; ``password: ""`` clears the password."""


class ImportIn(Strict):
    unit_id: Id
    csv: str = Field(..., max_length=5_000_000)


class ImportQuery(Strict):
    unit_id: Id | None = Field(None, description="The commune (or in the JSON body)")


class CameraListQuery(Strict):
    unit_id: Id | None = None
    status: str | None = Field(None, pattern=_pattern(CAMERA_STATUSES))
    q: str | None = Field(None, max_length=100)
    limit: int = Field(500, ge=1, le=5000)
    offset: int = Field(0, ge=0, le=1_000_000)


class WallQuery(Strict):
    unit_id: Id | None = None


class HistoryQuery(Strict):
    before: UtcTimeIn | None = Field(None, description="Newest first, older than this time")
    after: UtcTimeIn | None = None
    limit: int = Field(50, ge=1, le=500)


class ReasonQuery(Strict):
    reason: str | None = Field(None, max_length=500, description="Lý do xem / why (written to the audit log)")


class LiveQuery(ReasonQuery):
    max_seconds: int = Field(120, ge=1, le=300, description="The stream ends after this; the page reopens it")
    frames: int | None = Field(None, ge=1, le=100000)
    fps: float = Field(1.0, gt=0, le=10)


class ClipIn(Strict):
    seconds: int = Field(30, ge=1, le=300)
    reason: str | None = Field(None, max_length=500)


class MediaEvidenceIn(Strict):
    evidence: bool
    reason: str | None = Field(None, max_length=500)


class FaultQuery(Strict):
    status: str | None = Field("open", pattern="^(open|closed|all)$")
    unit_id: Id | None = None
    limit: int = Field(200, ge=1, le=1000)


class FaultCloseIn(Strict):
    note: str = Field(..., min_length=1, max_length=500)


class UptimeQuery(Strict):
    days: int = Field(30, ge=1, le=366)


class ReferenceResetIn(Strict):
    """Đặt lại khung nhìn chuẩn: the camera was re-aimed on purpose; say why (written to the audit log)."""

    reason: str = Field(..., min_length=1, max_length=500, description="Lý do / why the view changed")


# ---- responses -------------------------------------------------------------------------------

class ConsentOut(Out):
    id: int
    camera_id: int
    shares: str
    granted_by: str
    since: date
    document_ref: str | None
    revoked_at: ApiTime | None


# Context key of CameraOut: ``sources(commune_id) -> bool``, whether the caller may see a camera's
# addresses there. The route decides (tenants.access); without it the addresses are hidden.
SOURCES = "sources"


class CameraOut(Out):
    """Never the password (not even encrypted): only whether one is set. Reads a Camera, or a
    listing row (``registry.list_camera_rows``) carrying its consents and village name."""

    id: int
    commune_id: int
    code: str
    name: str
    village_id: int | None
    village: str | None = Field(None, validation_alias=AliasChoices("village_name", AliasPath("village", "name")))
    road: str | None
    latitude: float | None
    longitude: float | None
    direction: str | None
    kind: str
    ownership: str
    owner_name: str | None
    owner_contact: str | None
    recorder: str | None
    channel: int | None
    rtsp_main: str | None = Field(None, description="Only for those who install and repair cameras")
    rtsp_sub: str | None = None
    snapshot_url: str | None = None
    mjpeg_url: str | None = None
    username: str | None = None
    has_password: bool = Field(False, validation_alias="password_enc")
    install_date: date | None
    phase: str | None
    status: str
    capture_interval: int
    health: str
    last_snapshot_at: ApiTime | None
    last_ok_at: ApiTime | None
    consents: list[ConsentOut]

    @field_validator("has_password", mode="before")
    @classmethod
    def _is_set(cls, value) -> bool:
        return bool(value)

    @model_validator(mode="after")
    def _sources_if_allowed(self, info: ValidationInfo):
        shown = (info.context or {}).get(SOURCES)
        if shown is None or not shown(self.commune_id):
            for name in registry.SOURCE_FIELDS:
                setattr(self, name, None)
        return self

    @computed_field
    @property
    def consent(self) -> ConsentOut | None:
        """The consent in force (a shared camera's owner agreed), if any."""
        return next((k for k in self.consents if k.revoked_at is None), None)

    @computed_field
    @property
    def capture_allowed(self) -> bool:
        return registry.capture_allowed(self.status, self.ownership, self.consent)


class ImportOut(Out):
    created: int
    updated: int
    unchanged: int


class SnapshotOut(Out):
    id: int
    camera_id: int
    commune_id: int
    taken_at: ApiTime
    size: int
    sha256: str
    width: int
    height: int
    worker: str
    health: str
    evidence: bool

    @computed_field
    @property
    def download(self) -> str:
        return f"/api/v1/snapshots/{self.id}/download"


class WallItemOut(Out):
    camera_id: int = Field(validation_alias=AliasPath("camera", "id"))
    commune_id: int = Field(validation_alias=AliasPath("camera", "commune_id"))
    code: str = Field(validation_alias=AliasPath("camera", "code"))
    name: str = Field(validation_alias=AliasPath("camera", "name"))
    status: str = Field(validation_alias=AliasPath("camera", "status"))
    health: str = Field(validation_alias=AliasPath("camera", "health"))
    snapshot: SnapshotOut | None


class SnapshotPage(Out):
    """One page of a camera's snapshots, newest first; ask for the next with ``before=next_before``."""

    camera_id: int
    items: list[SnapshotOut]
    next_before: ApiTime | None


class ClipOut(Out):
    id: int
    camera_id: int
    commune_id: int
    status: str
    started_at: ApiTime | None
    duration_s: int
    size: int | None
    sha256: str | None
    reencoded: bool
    error: str | None
    evidence: bool
    legal_hold: bool

    @computed_field
    @property
    def download(self) -> str | None:
        return f"/api/v1/clips/{self.id}/download" if self.status == "ready" else None


class FaultTicketOut(Out):
    id: int
    camera_id: int
    commune_id: int
    camera_code: str = Field(validation_alias=AliasPath("camera", "code"))
    camera_name: str = Field(validation_alias=AliasPath("camera", "name"))
    rule: str
    status: str
    opened_at: ApiTime | None
    closed_at: ApiTime | None
    detail: dict | None
    close_note: str | None
    closed_by_id: int | None
    evidence_snapshot_id: int | None = Field(None, exclude=True)
    evidence_key: str | None = Field(None, exclude=True)

    @computed_field
    @property
    def evidence(self) -> str | None:
        has_evidence = bool(self.evidence_snapshot_id or self.evidence_key)
        return f"/api/v1/faults/{self.id}/evidence" if has_evidence else None


class ReferenceResetOut(Out):
    camera: CameraOut
    reference_reset_at: ApiTime
    closed_tickets: list[FaultTicketOut]


class UptimeDayOut(Out):
    day: date
    checks: int
    ok: int
    uptime: float | None


class UptimeOut(Out):
    camera_id: int
    days: list[UptimeDayOut]
    checks: int
    ok: int
    uptime: float | None
