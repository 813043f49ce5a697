"""Types shared by every feature's request schemas."""
from typing import Annotated

from pydantic import Field

# Ids fit a signed 64-bit integer (SQLite INTEGER, PostgreSQL bigint); larger never exist.
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]
