"""Opportunity stage changes: contiguous history, won/lost rules, stale versions."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import ConflictError, ValidationError
from crm_app.models import AuditLog, Opportunity, OpportunityStageHistory
from crm_app.services.opportunities import change_stage, create_opportunity
from tests import factories


def _history(session: Session, opportunity: Opportunity) -> list[OpportunityStageHistory]:
    return list(
        session.scalars(
            select(OpportunityStageHistory)
            .where(OpportunityStageHistory.opportunity_id == opportunity.id)
            .order_by(OpportunityStageHistory.changed_at, OpportunityStageHistory.id)
        )
    )


def _new(session: Session) -> Opportunity:
    rep = factories.user(session)
    account = factories.account(session, owner_id=rep.id)
    return create_opportunity(
        session,
        {"name": "Big deal", "account_id": account.id, "amount": Decimal("5000")},
        rep,
        at=dt.datetime(2026, 1, 5, 9, 0),
    )


def test_new_opportunity_starts_its_history_in_the_first_stage(session: Session) -> None:
    opp = _new(session)
    session.commit()
    [first] = _history(session, opp)
    assert first.from_stage_id is None and first.to_stage_id == opp.stage_id
    assert opp.probability == factories.stage(session, "Lead").probability
    assert opp.status == "open" and opp.closed_date is None


def test_history_is_contiguous_and_ends_at_the_current_stage(session: Session) -> None:
    opp = _new(session)
    for day, name in enumerate(["Qualified", "Proposal", "Needs analysis", "Negotiation", "Won"], start=6):
        change_stage(session, opp, factories.stage(session, name).id, None, at=dt.datetime(2026, 1, day, 10))
    session.commit()
    rows = _history(session, opp)
    assert len(rows) == 6
    for previous, row in itertools.pairwise(rows):
        assert row.from_stage_id == previous.to_stage_id
        assert row.changed_at >= previous.changed_at
    assert rows[-1].to_stage_id == opp.stage_id
    assert opp.status == "won" and opp.closed_date == dt.date(2026, 1, 10)
    assert opp.probability == Decimal("1")


def test_losing_requires_a_reason_and_changes_nothing_without_it(session: Session) -> None:
    opp = _new(session)
    session.commit()
    lost = factories.stage(session, "Lost")
    with pytest.raises(ValidationError) as info:
        change_stage(session, opp, lost.id, None)
    assert "lost_reason" in info.value.errors
    session.rollback()
    session.expire_all()
    assert session.get(Opportunity, opp.id).status == "open"  # type: ignore[union-attr]
    assert len(_history(session, opp)) == 1


def test_losing_with_a_reason_closes_the_deal_and_records_the_competitor(session: Session) -> None:
    opp = _new(session)
    from crm_app.models import Competitor

    rival = Competitor(name="Rival Corp")
    session.add(rival)
    session.flush()
    change_stage(
        session,
        opp,
        factories.stage(session, "Lost").id,
        None,
        lost_reason="price",
        competitor_id=rival.id,
        at=dt.datetime(2026, 2, 1, 12),
    )
    session.commit()
    assert (opp.status, opp.lost_reason, opp.competitor_id) == ("lost", "price", rival.id)
    assert opp.closed_date == dt.date(2026, 2, 1) and opp.probability == Decimal("0")
    audit = session.scalar(select(AuditLog).where(AuditLog.action == "stage_change"))
    assert audit is not None and audit.changes["status"] == ["open", "lost"]


def test_reopening_a_closed_deal_clears_its_close_date(session: Session) -> None:
    opp = _new(session)
    change_stage(session, opp, factories.stage(session, "Won").id, None, at=dt.datetime(2026, 1, 9))
    change_stage(session, opp, factories.stage(session, "Negotiation").id, None, at=dt.datetime(2026, 1, 10))
    session.commit()
    assert opp.status == "open" and opp.closed_date is None


def test_stage_change_on_a_stale_version_is_refused(session: Session) -> None:
    opp = _new(session)
    session.commit()
    seen = opp.version
    change_stage(session, opp, factories.stage(session, "Qualified").id, None, expected_version=seen)
    session.commit()
    with pytest.raises(ConflictError):
        change_stage(session, opp, factories.stage(session, "Proposal").id, None, expected_version=seen)
    assert opp.stage_id == factories.stage(session, "Qualified").id


def test_a_stage_change_cannot_be_back_dated_before_the_last_one(session: Session) -> None:
    opp = _new(session)
    with pytest.raises(ValidationError):
        change_stage(session, opp, factories.stage(session, "Qualified").id, None, at=dt.datetime(2025, 12, 1))
