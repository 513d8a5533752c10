"""Saved customer segments: named filter definitions analysts build in the dashboards' segment explorer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_app.models.base import Base, SoftDeleteMixin, TimestampedMixin


class SavedSegment(TimestampedMixin, SoftDeleteMixin, Base):
    """A named set of filters over the warehouse's customer marts (7P, RFM, value).

    ``definition`` holds the filters as JSON (``{"filters": [{"column": ..., "op": ..., "value": ...}]}``,
    validated by ``crm_app.services.segments``); the members are computed when the segment is used, so a
    segment follows the customers as the warehouse is refreshed. Names are unique per owner among live
    segments (checked by the service: a deleted segment's name may be reused).
    """

    __tablename__ = "saved_segments"
    __table_args__ = (Index("ix_saved_segments_owner_id_name", "owner_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
