"""Query parameters of the transparency API (sizes are tree sizes, hashes base64 or hex)."""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..schemas import Out

Size = Annotated[int, Field(ge=1, le=2**62)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SizeQuery(Strict):
    size: Size | None = Field(None, description="Kích thước cây của checkpoint / checkpoint tree size (default: latest)")


class ConsistencyQuery(Strict):
    old: Size = Field(description="Kích thước cũ / the older tree size")
    new: Size = Field(description="Kích thước mới / the newer tree size (a checkpoint)")


class LeafQuery(Strict):
    leaf: str = Field(min_length=43, max_length=64, description="Leaf hash, base64 (44) or hex (64)")
    size: Size | None = None

    @field_validator("leaf")
    @classmethod
    def _hash(cls, value: str) -> str:
        if decode_hash(value) is None:
            raise ValueError("not a SHA-256 hash in base64 or hex")
        return value

    def leaf_bytes(self) -> bytes:
        return decode_hash(self.leaf)


def decode_hash(text: str) -> bytes | None:
    try:
        if len(text) == 64:
            raw = bytes.fromhex(text)
        else:
            text = text.replace("-", "+").replace("_", "/")
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == 32 else None


class WitnessIn(Strict):
    cosignatures: str = Field(min_length=10, max_length=4000,
                              description="Dòng chữ ký đồng xác nhận / cosignature lines from a witness (C2SP tlog-witness)")
    size: Size


# ---- responses (hashes, salts and payloads base64) -----------------------------------------

class EntryProofOut(Out):
    """An entry of a log with its salt and payload, its inclusion proof and the signed checkpoint;
    anyone can check it offline with the verifier key."""

    origin: str
    index: int
    size: int
    leaf_hash: str
    salt: str
    payload: str
    payload_text: str
    proof: list[str]
    checkpoint: str
    verifier_key: str


class ReceiptProofOut(EntryProofOut):
    receipt_id: int
    receipt_number: str | None


class CheckpointOut(Out):
    origin: str
    size: int
    checkpoint: str | None = Field(..., description="The signed note; none while the log is empty")


class LogAuditOut(Out):
    ok: bool
    size: int
    problems: list[str] = Field(..., description="The first 20 problems found")
