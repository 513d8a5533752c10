"""Business rules for the catalogue: quote/order templates with product lines (document_templates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import DocumentTemplate, DocumentTemplateLine, Product
from crm_app.services import records
from crm_app.services.orders import LineInput
from crm_app.services.visibility import Viewer


def _lines(session: Session, lines: Sequence[Mapping[str, Any]]) -> list[DocumentTemplateLine]:
    built = []
    for position, line in enumerate(lines, start=1):
        product = session.get(Product, line["product_id"])
        if product is None or product.deleted_at is not None:
            raise ValidationError(f"line {position}: unknown product", {f"lines.{position}.product_id": "unknown"})
        built.append(
            DocumentTemplateLine(
                position=position,
                product_id=product.id,
                quantity=Decimal(line["quantity"]),
                discount_pct=Decimal(line.get("discount_pct") or 0),
            )
        )
    return built


def create_document_template(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> DocumentTemplate:
    values = dict(values)
    lines = _lines(session, values.pop("lines", None) or [])
    template = records.create_record(session, DocumentTemplate, values, viewer.user)
    template.lines.extend(lines)
    records.flush(session, records.label(template))
    return template


def update_document_template(
    session: Session, viewer: Viewer, template: DocumentTemplate, values: Mapping[str, Any], version: int
) -> DocumentTemplate:
    values = dict(values)
    lines = values.pop("lines", None)
    records.update_record(session, template, values, viewer.user, version)
    if lines is not None:
        built = _lines(session, lines)
        template.lines.clear()
        records.flush(session, records.label(template))
        template.lines.extend(built)
        records.flush(session, records.label(template))
        records.audit(session, viewer.user, "update", template, {"lines": len(built)})
    return template


def template_lines(template: DocumentTemplate) -> list[LineInput]:
    """A template's lines as quote/order line input (price from the price policy at the time)."""
    return [
        LineInput(product_id=line.product_id, quantity=line.quantity, discount_pct=line.discount_pct or None)
        for line in template.lines
    ]
