"""Response bodies of the dashboards API (oversight, coverage, the sponsor portal)."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasPath, BeforeValidator, Field

from ..billing_socialization.schemas import SponsorCameraOut, SponsorReportOut
from ..schemas import ApiTime, Out


class CommuneFiguresOut(Out):
    id: int = Field(validation_alias=AliasPath("commune", "id"))
    name: str = Field(validation_alias=AliasPath("commune", "name"))
    installed: int
    active: int
    down: int
    online_share: float | None
    open_faults: int
    incidents: int
    clarified: int
    by_month: list[int] = Field(..., description="Incidents per month, in the order of ``months``")
    by_category: dict[str, int]


class OversightOut(Out):
    generated_at: ApiTime
    months: list[str]
    communes: list[CommuneFiguresOut]
    cameras: list[dict[str, Any]] = Field(..., description="One map point per camera (empty when clustered)")
    clusters: list[dict[str, Any]] = Field(..., description="One map marker per commune above the point limit")
    total_incidents: int
    total_clarified: int


class VillageCoverageOut(Out):
    id: int = Field(validation_alias=AliasPath("village", "id"))
    name: str = Field(validation_alias=AliasPath("village", "name"))
    households: int | None = Field(validation_alias=AliasPath("village", "households"))
    cameras: int
    working: int
    per_1000: float | None
    gap: bool


class RoadCoverageOut(Out):
    road: str
    cameras: int
    working: int


class DownCameraOut(Out):
    camera_id: int = Field(validation_alias=AliasPath("camera", "id"))
    code: str = Field(validation_alias=AliasPath("camera", "code"))
    status: str = Field(validation_alias=AliasPath("camera", "status"))
    since: ApiTime | None
    hours: int | None


class BacklogOut(Out):
    ticket_id: int = Field(validation_alias=AliasPath("ticket", "id"))
    camera_id: int = Field(validation_alias=AliasPath("ticket", "camera_id"))
    rule: str = Field(validation_alias=AliasPath("ticket", "rule"))
    age_days: int


class CoverageOut(Out):
    commune_id: int
    installed: int
    working: int
    per_1000_households: float | None = Field(validation_alias="per_1000")
    gaps: Annotated[list[str], BeforeValidator(lambda rows: [r.village.name for r in rows])] = Field(
        ..., description="Villages without a working camera")
    villages: list[VillageCoverageOut]
    roads: list[RoadCoverageOut]
    down: list[DownCameraOut]
    repair_backlog: list[BacklogOut] = Field(validation_alias="backlog")


class SponsorPortalOut(Out):
    available: bool
    sponsor_id: int | None
    summary: SponsorReportOut | None
    cameras: list[SponsorCameraOut]
    helped: list[dict[str, Any]]
    helped_total: int
    helped_clarified: int
