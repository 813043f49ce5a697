"""Request models of the video API (pydantic: validation and the OpenAPI document from one source)."""
from __future__ import annotations

from pydantic import Field

from ..streams.schemas import Strict


class LiveVideoQuery(Strict):
    reason: str | None = Field(None, max_length=500, description="Lý do xem / why (written to the audit log)")
    profile: str = Field("main", pattern="^(main|sub)$", description="main | sub (the camera's second, smaller stream)")
    max_seconds: int = Field(3600, ge=1, le=86400, description="The stream ends after this; the page reopens it")
