"""Request bodies and queries of the streams API (pydantic: validation and OpenAPI from one source)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    granted_by: str = Field(..., min_length=1, max_length=200)
    since: date
    document_ref: str | None = Field(None, max_length=200)


class CameraFields(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    village_id: Id | None = None
    road: str | None = Field(None, max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    direction: str | None = Field(None, max_length=20)
    kind: str | None = Field(None, pattern=_pattern(CAMERA_KINDS))
    ownership: str | None = Field(None, pattern=_pattern(OWNERSHIPS))
    owner_name: str | None = Field(None, max_length=200)
    owner_contact: str | None = Field(None, max_length=200)
    recorder: str | None = Field(None, max_length=80)
    channel: int | None = Field(None, ge=0, le=1024)
    rtsp_main: str | None = Field(None, max_length=500)
    rtsp_sub: str | None = Field(None, max_length=500)
    snapshot_url: str | None = Field(None, max_length=500)
    mjpeg_url: str | None = Field(None, max_length=500)
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=200, description="Write-only; stored encrypted")
    install_date: date | None = None
    phase: str | None = Field(None, max_length=40)
    status: str | None = Field(None, pattern=_pattern(CAMERA_STATUSES))
    capture_interval: int | None = Field(None, ge=10, le=86400)


class CameraIn(CameraFields):
    commune_id: Id
    code: str = Field(..., min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(..., min_length=1, max_length=200)
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
    before: datetime | None = Field(None, description="Newest first, older than this time")
    after: datetime | None = None
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


class EvidenceIn(Strict):
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
