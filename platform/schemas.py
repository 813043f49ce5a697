"""Types shared by every feature's request and response schemas."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .clock import to_vn

# Ids fit a signed 64-bit integer (SQLite INTEGER, PostgreSQL bigint); larger never exist.
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _utc_in(value: datetime) -> datetime:
    """A time a client sends back (e.g. ``next_before``): aware values become UTC, the stored zone."""
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value


# The API's one rule for times: every time in its output is Vietnam time with its offset,
# "2026-01-05T21:30:00+07:00" (what the people using camnet read); naive values (SQLite) are UTC.
ApiTime = Annotated[datetime, AfterValidator(to_vn)]
# A time in a query that is compared with stored (UTC) times.
UtcTimeIn = Annotated[datetime, AfterValidator(_utc_in)]


class Out(BaseModel):
    """Base of response models: read from ORM objects, rows or dicts; unknown attributes ignored."""

    model_config = ConfigDict(from_attributes=True, json_schema_serialization_defaults_required=True)


class Error(Out):
    """The body of every error answer (4xx, 5xx); ``field`` and ``errors`` only where they apply."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    error: str = Field(..., description="Mã lỗi / machine-readable code, e.g. not_found")
    message: str = Field(..., description="Thông báo, tiếng Việt trước / message, Vietnamese first")
    field: str = Field(None, description="The request field at fault")
    errors: list[dict] = Field(None, description="Every field at fault: {field, message}")
