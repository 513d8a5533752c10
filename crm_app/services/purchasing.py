"""Business rules for purchasing: purchase orders to suppliers with priced lines, and returns to suppliers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Account, Product, PurchaseOrder, PurchaseOrderLine
from crm_app.services import records
from crm_app.services.pricing import money
from crm_app.services.visibility import Viewer

ZERO = Decimal("0")


def _supplier(session: Session, supplier_id: int) -> Account:
    supplier = session.get(Account, supplier_id)
    if supplier is None or supplier.deleted_at is not None or supplier.kind != "supplier":
        raise ValidationError("choose a supplier account", {"supplier_id": "not a supplier"})
    return supplier


def create_purchase_order(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> PurchaseOrder:
    values = dict(values)
    lines = values.pop("lines")
    _supplier(session, values["supplier_id"])
    built = []
    for position, line in enumerate(lines, start=1):
        product = session.get(Product, line["product_id"])
        if product is None or product.deleted_at is not None:
            raise ValidationError(f"line {position}: unknown product", {f"lines.{position}.product_id": "unknown"})
        cost = money(line["unit_cost"] if line.get("unit_cost") is not None else product.unit_cost)
        quantity = Decimal(line["quantity"])
        built.append(
            PurchaseOrderLine(
                position=position,
                product_id=product.id,
                quantity=quantity,
                unit_cost=cost,
                line_total=money(quantity * cost),
            )
        )
    values.update(
        number=records.next_number(session, PurchaseOrder, "PO"),
        kind="purchase",
        owner_id=viewer.id,
        department_id=viewer.department_id,
        order_date=values.get("order_date") or dt.date.today(),
        total_amount=sum((line.line_total for line in built), ZERO),
    )
    order = records.create_record(session, PurchaseOrder, values, viewer.user)
    order.lines.extend(built)
    records.flush(session, records.label(order))
    return order


def returned(session: Session, order: PurchaseOrder) -> dict[int, Decimal]:
    """Quantity of each product already returned from ``order`` (by earlier returns)."""
    rows = session.execute(
        select(PurchaseOrderLine.product_id, func.sum(PurchaseOrderLine.quantity))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.return_of_id == order.id, PurchaseOrder.deleted_at.is_(None))
        .group_by(PurchaseOrderLine.product_id)
    ).all()
    return {product_id: Decimal(qty) for product_id, qty in rows}


def create_purchase_return(
    session: Session, viewer: Viewer, order: PurchaseOrder, quantities: Mapping[int, Decimal], notes: str | None = None
) -> PurchaseOrder:
    """Send back ``quantities`` (purchase line id → quantity) at the cost they were bought for."""
    if order.kind != "purchase":
        raise ValidationError("only a purchase can be returned", {"return_of_id": "not a purchase"})
    by_id = {line.id: line for line in order.lines}
    already = returned(session, order)
    built = []
    for position, (line_id, qty) in enumerate(quantities.items(), start=1):
        line = by_id.get(line_id)
        if line is None:
            raise ValidationError(f"line {line_id} is not on {order.number}", {f"lines.{line_id}": "unknown"})
        left = line.quantity - already.get(line.product_id, ZERO)
        if qty <= 0 or qty > left:
            raise ValidationError(
                f"line {position}: can return between 0 and {left}", {f"lines.{line_id}.quantity": f"at most {left}"}
            )
        built.append(
            PurchaseOrderLine(
                position=position,
                product_id=line.product_id,
                quantity=qty,
                unit_cost=line.unit_cost,
                line_total=money(qty * line.unit_cost),
            )
        )
    if not built:
        raise ValidationError("choose at least one line to return", {"lines": "nothing to return"})
    ret = records.create_record(
        session,
        PurchaseOrder,
        {
            "number": records.next_number(session, PurchaseOrder, "PR"),
            "kind": "return",
            "return_of_id": order.id,
            "supplier_id": order.supplier_id,
            "owner_id": viewer.id,
            "department_id": order.department_id,
            "status": "ordered",
            "order_date": dt.date.today(),
            "total_amount": sum((line.line_total for line in built), ZERO),
            "notes": notes,
        },
        viewer.user,
    )
    ret.lines.extend(built)
    records.flush(session, records.label(ret))
    return ret
