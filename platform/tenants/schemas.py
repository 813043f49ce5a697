"""Request bodies of the tenants API (pydantic: validation and OpenAPI schemas from one source)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from ..names import HumanName
from ..schemas import ApiTime, DbId, Out
from .roles import ROLES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UnitIn(Strict):
    parent_id: DbId | None = Field(None, description="Parent unit; empty only for a root")
    code: str = Field(..., min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: HumanName = Field(..., min_length=1, max_length=200)
    level: HumanName = Field(..., min_length=1, max_length=40, description="tỉnh, huyện, xã, thị trấn, phường ...")
    is_commune: bool = False
    households: int | None = Field(None, ge=0, le=10_000_000)
    population: int | None = Field(None, ge=0, le=100_000_000)


class VillageIn(Strict):
    name: HumanName = Field(..., min_length=1, max_length=200)
    kind: HumanName = Field("thôn", min_length=1, max_length=40)
    households: int = Field(0, ge=0, le=1_000_000)
    population: int = Field(0, ge=0, le=10_000_000)


class UserIn(Strict):
    username: str = Field(..., min_length=3, max_length=80, pattern=r"^[a-z0-9_.-]+$")
    full_name: HumanName = Field(..., min_length=1, max_length=200)
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
    name: HumanName = Field(..., min_length=1, max_length=100)
    expires_at: datetime | None = None


class AuditQuery(Strict):
    unit_id: DbId | None = None
    action: str | None = Field(None, max_length=60)
    limit: int = Field(100, ge=1, le=1000)
    before_id: DbId | None = None


# ---- responses -------------------------------------------------------------------------------

class UnitOut(Out):
    id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    is_commune: bool
    households: int | None
    population: int | None
    path: str


class VillageOut(Out):
    id: int
    commune_id: int
    name: str
    kind: str
    households: int | None
    population: int | None


class VillageCreated(Out):
    id: int
    commune_id: int
    name: str


class GrantOut(Out):
    id: int
    role: str
    unit_id: int


class GrantCreated(GrantOut):
    user_id: int


class _Holder(Out):
    grants: list[GrantOut]

    @computed_field
    @property
    def roles(self) -> list[str]:
        return sorted({g.role for g in self.grants})


class UserOut(_Holder):
    id: int
    username: str
    full_name: str
    email: str | None
    unit_id: int | None
    active: bool


class MeOut(_Holder):
    id: int
    username: str
    full_name: str
    unit_id: int | None
    unit_count: int = Field(0, description="Units in the caller's scope")


class TokenOut(Out):
    id: int
    name: str
    prefix: str
    created_at: ApiTime | None
    expires_at: ApiTime | None
    last_used_at: ApiTime | None
    revoked_at: ApiTime | None


class TokenCreated(TokenOut):
    token: str = Field(..., description="Shown once; only its hash is kept")


class AuditEventOut(Out):
    id: int
    at: ApiTime
    actor_id: int | None
    actor: str | None = Field(None, validation_alias="actor_name")
    action: str
    outcome: str | None
    unit_id: int | None
    object_type: str | None
    object_id: str | None
    ip: str | None
    reason: str | None
    detail: dict | list | None
