"""The shapes of request and response bodies: strict, closed (`extra="forbid"`), bounded.

Input rules that are about form (types, lengths, NUL bytes, PostgreSQL's integer range) are checked here so
bad input gets a clear 4xx before any SQL runs; every rule about meaning lives in SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from api.rules import PASSWORD_MAX, USERNAME_MAX, USERNAME_MIN

PG_INT_MAX = 2**31 - 1
NO_NUL = r"^[^\x00]*$"


class Strict(BaseModel):
    """Request bodies: exact types (no "1" for 1, no true for 1), no unknown field."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    """Response bodies, built from SQL rows."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        """The seed's `timestamp` columns have no zone; the API's sessions run in UTC, so they are UTC."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def text(max_length: int, min_length: int = 1) -> object:
    """A string without NUL bytes (PostgreSQL cannot store them) of bounded length."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Name = Annotated[str, text(USERNAME_MAX, USERNAME_MIN)]
Password = Annotated[str, text(PASSWORD_MAX, 1)]  # the minimum is SQL's, with its own message
Email = Annotated[str, text(254, 3)]
Short = Annotated[str, text(255)]
Long = Annotated[str, text(10_000)]

ObjectId = Annotated[int, Path(ge=1, le=PG_INT_MAX, description="The object's id.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[int | None, Query(ge=0, le=PG_INT_MAX, description="The `next` of the previous page.")]
