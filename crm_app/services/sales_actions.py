"""Sales actions as a person takes them, for pages and API alike: the person's rights, the rules a form or a
payload must meet, then the service that writes the change (stage history, order lines, audit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Competitor, Opportunity, Order, PipelineStage, Quote
from crm_app.services import opportunities, orders
from crm_app.services.visibility import Viewer, require_write


def change_stage(session: Session, viewer: Viewer, opportunity: Opportunity, change: Any) -> Opportunity:
    """The one way pages and API move a deal: visibility, write rights, lost reason and competitor."""
    require_write(session, viewer, "opportunities", opportunity)
    stage = session.get(PipelineStage, change.stage_id)
    if stage is None:
        raise ValidationError("unknown stage", {"stage_id": "unknown stage"})
    if stage.is_closed and not stage.is_won:
        errors = {}
        if not change.lost_reason:
            errors["lost_reason"] = "choose why the deal was lost"
        if change.lost_reason == "competitor" and change.competitor_id is None:
            errors["competitor_id"] = "say which competitor won it"
        if errors:
            raise ValidationError("losing a deal needs a reason (and the competitor who won it)", errors)
    if change.competitor_id is not None and session.get(Competitor, change.competitor_id) is None:
        raise ValidationError("unknown competitor", {"competitor_id": "unknown competitor"})
    return opportunities.change_stage(
        session,
        opportunity,
        stage.id,
        viewer.user,
        expected_version=change.version,
        lost_reason=change.lost_reason,
        lost_note=change.lost_note,
        competitor_id=change.competitor_id,
    )


def convert(session: Session, viewer: Viewer, quote: Quote, data: Any) -> Order:
    """Quote → order through the order service, for pages and API alike."""
    require_write(session, viewer, "quotes", quote)
    require_write(session, viewer, "orders")
    return orders.convert_quote_to_order(
        session, quote, viewer.user, expected_version=data.version, order_date=data.order_date, channel=data.channel
    )


def make_return(session: Session, viewer: Viewer, order: Order, data: Any) -> Order:
    """Return some of a sale's lines (quantities by line) as a return order at the prices paid."""
    require_write(session, viewer, "orders", order)
    return orders.create_return(
        session,
        order,
        {line.line_id: line.quantity for line in data.lines},
        viewer.user,
        return_date=data.return_date,
        notes=data.notes,
    )
