"""Business rules of sales plans: monthly targets and their actuals (net revenue, collections, quantity)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm_app.models import Order, OrderLine, Payment, Product, SalesPlan, User
from crm_app.services.visibility import department_tree

ZERO = Decimal("0")


@dataclass(frozen=True)
class PlanActual:
    plan: SalesPlan
    revenue: Decimal
    collections: Decimal
    quantity: Decimal

    @property
    def attainment(self) -> float | None:
        if not self.plan.target_revenue:
            return None
        return float(self.revenue / self.plan.target_revenue)


def _month_end(month: dt.date) -> dt.date:
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def plan_actual(session: Session, plan: SalesPlan) -> PlanActual:
    start, end = plan.period_month, _month_end(plan.period_month)
    sign = case((Order.kind == "sale", 1), else_=-1)
    lines = (
        select(
            func.coalesce(func.sum(sign * OrderLine.line_total), 0),
            func.coalesce(func.sum(sign * OrderLine.quantity), 0),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.order_date.between(start, end),
            Order.status != "cancelled",
            Order.deleted_at.is_(None),
        )
    )
    paid = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.paid_on.between(start, end), Payment.deleted_at.is_(None), Order.kind == "sale")
    )
    if plan.user_id is not None:
        lines = lines.where(Order.owner_id == plan.user_id)
        paid = paid.where(Order.owner_id == plan.user_id)
    elif plan.department_id is not None:
        tree = department_tree(session, plan.department_id)
        lines = lines.where(Order.department_id.in_(tree))
        paid = paid.where(Order.department_id.in_(tree))
    if plan.category_id is not None:
        lines = lines.join(Product, Product.id == OrderLine.product_id).where(Product.category_id == plan.category_id)
    revenue, quantity = session.execute(lines).one()
    collections: Any = session.scalar(paid) if plan.category_id is None else ZERO
    return PlanActual(plan, Decimal(str(revenue or 0)), Decimal(str(collections or 0)), Decimal(str(quantity or 0)))


__all__ = ["PlanActual", "User", "plan_actual"]
