"""Request bodies of the tenants API (pydantic: validation and OpenAPI schemas from one source)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..schemas import DbId
from .roles import ROLES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UnitIn(Strict):
    parent_id: DbId | None = Field(None, description="Parent unit; empty only for a root")
    code: str = Field(..., min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(..., min_length=1, max_length=200)
    level: str = Field(..., min_length=1, max_length=40, description="tỉnh, huyện, xã, thị trấn, phường ...")
    is_commune: bool = False
    households: int | None = Field(None, ge=0, le=10_000_000)
    population: int | None = Field(None, ge=0, le=100_000_000)


class VillageIn(Strict):
    name: str = Field(..., min_length=1, max_length=200)
    kind: str = Field("thôn", min_length=1, max_length=40)
    households: int = Field(0, ge=0, le=1_000_000)
    population: int = Field(0, ge=0, le=10_000_000)


class UserIn(Strict):
    username: str = Field(..., min_length=3, max_length=80, pattern=r"^[a-z0-9_.-]+$")
    full_name: str = Field(..., min_length=1, max_length=200)
    email: str | None = Field(None, max_length=200)
    password: str = Field(..., min_length=10, max_length=200)
    unit_id: DbId
    lang: str = Field("vi", pattern=r"^(vi|en)$")


class GrantIn(Strict):
    role: str
    unit_id: DbId

    @field_validator("role")
    @classmethod
    def known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"unknown role; one of {', '.join(ROLES)}")
        return value


class TokenIn(Strict):
    name: str = Field(..., min_length=1, max_length=100)
    expires_at: datetime | None = None


class AuditQuery(Strict):
    unit_id: DbId | None = None
    action: str | None = Field(None, max_length=60)
    limit: int = Field(100, ge=1, le=1000)
    before_id: DbId | None = None
