"""Opportunities: creation and stage changes, each written to the stage history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import LOST_REASONS, Opportunity, OpportunityStageHistory, PipelineStage, User, utcnow
from crm_app.services.records import audit, check_version, create_record, flush, get_record, label


def stages(session: Session, *, active_only: bool = True) -> list[PipelineStage]:
    return list(session.scalars(_ACTIVE_STAGES if active_only else _STAGES))


# built once (a statement built per call costs more than it takes to run)
_STAGES = select(PipelineStage).order_by(PipelineStage.position)
_ACTIVE_STAGES = _STAGES.where(PipelineStage.is_active)


def lost_stage(session: Session) -> PipelineStage:
    stage = session.scalar(
        select(PipelineStage).where(PipelineStage.is_closed, ~PipelineStage.is_won).order_by(PipelineStage.position)
    )
    if stage is None:
        raise ValidationError("no closed-lost stage is configured in pipeline_stages")
    return stage


def create_opportunity(
    session: Session, values: Mapping[str, Any], actor: User | None, *, at: dt.datetime | None = None
) -> Opportunity:
    """Create an opportunity in its first stage (or the one given) and open its stage history."""
    values = dict(values)
    stage_id = values.pop("stage_id", None)
    stage = get_record(session, PipelineStage, stage_id) if stage_id else stages(session)[0]
    if stage.is_closed:
        raise ValidationError("a new opportunity must start in an open stage", {"stage_id": "choose an open stage"})
    values.setdefault("probability", stage.probability)
    values.setdefault("owner_id", actor.id if actor else None)
    if actor is not None and actor.department_id is not None:
        values.setdefault("department_id", actor.department_id)
    when = at or utcnow()
    opportunity = create_record(session, Opportunity, {**values, "stage_id": stage.id, "status": "open"}, actor)
    if at is not None:
        opportunity.created_at = at
    _record_stage(session, opportunity, None, when, actor)
    return opportunity


def _record_stage(
    session: Session, opportunity: Opportunity, from_stage_id: int | None, when: dt.datetime, actor: User | None
) -> None:
    """Append the stage the opportunity is now in to its history (amount and probability at that moment)."""
    session.add(
        OpportunityStageHistory(
            opportunity_id=opportunity.id,
            from_stage_id=from_stage_id,
            to_stage_id=opportunity.stage_id,
            changed_at=when,
            changed_by_id=actor.id if actor else None,
            amount=opportunity.amount,
            probability=opportunity.probability,
        )
    )
    flush(session, label(opportunity))


def change_stage(
    session: Session,
    opportunity: Opportunity,
    stage_id: int,
    actor: User | None,
    *,
    expected_version: int | None = None,
    lost_reason: str | None = None,
    lost_note: str | None = None,
    competitor_id: int | None = None,
    at: dt.datetime | None = None,
) -> Opportunity:
    """Move ``opportunity`` to ``stage_id``: history row, won/lost status, closed date, probability.

    Losing requires a reason from LOST_REASONS; a stale ``expected_version`` is refused and changes nothing.
    """
    check_version(opportunity, expected_version)
    stage = get_record(session, PipelineStage, stage_id)
    if stage.id == opportunity.stage_id:
        return opportunity
    when = at or utcnow()
    is_lost = stage.is_closed and not stage.is_won
    if is_lost:
        if not lost_reason:
            raise ValidationError(
                "a lost opportunity needs a lost reason", {"lost_reason": "choose why the deal was lost"}
            )
        if lost_reason not in LOST_REASONS:
            raise ValidationError(
                f"unknown lost reason {lost_reason!r}", {"lost_reason": f"one of: {', '.join(LOST_REASONS)}"}
            )
    last_change = session.scalar(
        select(OpportunityStageHistory.changed_at)
        .where(OpportunityStageHistory.opportunity_id == opportunity.id)
        .order_by(OpportunityStageHistory.changed_at.desc())
        .limit(1)
    )
    if last_change is not None and when < last_change:
        raise ValidationError("a stage change cannot be dated before the previous one", {"at": "too early"})

    before = {"stage_id": opportunity.stage_id, "status": opportunity.status}
    from_stage_id = opportunity.stage_id
    opportunity.stage_id = stage.id
    if stage.is_closed:
        opportunity.status = "won" if stage.is_won else "lost"
        opportunity.closed_date = when.date()
        opportunity.probability = stage.probability
    else:
        opportunity.status = "open"
        opportunity.closed_date = None
        opportunity.probability = stage.probability
    if is_lost:
        opportunity.lost_reason = lost_reason
        opportunity.lost_note = lost_note
        if competitor_id is not None:
            opportunity.competitor_id = competitor_id
    else:
        opportunity.lost_reason = None
    _record_stage(session, opportunity, from_stage_id, when, actor)
    audit(
        session,
        actor,
        "stage_change",
        opportunity,
        {
            "stage_id": [before["stage_id"], stage.id],
            "status": [before["status"], opportunity.status],
            **({"lost_reason": lost_reason} if is_lost else {}),
        },
    )
    return opportunity
