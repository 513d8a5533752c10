"""Reference data every installation starts with (idempotent): the default sales pipeline."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.models import PipelineStage

DEFAULT_PIPELINE = (
    # name, probability, closed, won
    ("Lead", "0.10", False, False),
    ("Qualified", "0.20", False, False),
    ("Needs analysis", "0.40", False, False),
    ("Proposal", "0.60", False, False),
    ("Negotiation", "0.80", False, False),
    ("Won", "1.00", True, True),
    ("Lost", "0.00", True, False),
)


def seed_reference_data(session: Session) -> int:
    """Create the default pipeline when none is configured; returns how many stages were added."""
    if session.scalar(select(PipelineStage.id).limit(1)) is not None:
        return 0
    for position, (name, probability, closed, won) in enumerate(DEFAULT_PIPELINE, start=1):
        session.add(
            PipelineStage(
                name=name,
                position=position,
                probability=Decimal(probability),
                is_closed=closed,
                is_won=won,
            )
        )
    session.flush()
    return len(DEFAULT_PIPELINE)
