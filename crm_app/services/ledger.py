"""Business rules of the order ledger: each visible order with amount, paid, outstanding and salesperson."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm_app.models import Account, Order, Payment, User
from crm_app.services.visibility import Viewer, restrict

SORTS = {
    "order_date": Order.order_date,
    "number": Order.number,
    "total_amount": Order.total_amount,
}


@dataclass(frozen=True)
class LedgerRow:
    order_id: int
    number: str
    kind: str
    status: str
    order_date: dt.date
    account_id: int
    account_name: str
    salesperson: str | None
    amount: Decimal
    paid: Decimal
    outstanding: Decimal


def ledger_query(
    viewer: Viewer, *, outstanding_only: bool = False, owner_id: int | None = None, q: str | None = None
) -> Select[Any]:
    paid = (
        select(Payment.order_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.deleted_at.is_(None))
        .group_by(Payment.order_id)
        .subquery()
    )
    paid_amount = func.coalesce(paid.c.paid, 0)
    query: Any = (
        select(
            Order.id,
            Order.number,
            Order.kind,
            Order.status,
            Order.order_date,
            Order.account_id,
            Account.name,
            User.full_name,
            Order.total_amount,
            paid_amount.label("paid"),
            (Order.total_amount - paid_amount).label("outstanding"),
        )
        .join(Account, Account.id == Order.account_id)
        .outerjoin(User, User.id == Order.owner_id)
        .outerjoin(paid, paid.c.order_id == Order.id)
    )
    query = restrict(query, viewer, "orders")
    if outstanding_only:
        query = query.where(Order.status != "cancelled", Order.total_amount - paid_amount > 0)
    if owner_id is not None:
        query = query.where(Order.owner_id == owner_id)
    if q:
        query = query.where(Order.number.ilike(f"%{q}%") | Account.name.ilike(f"%{q}%"))
    return query


def ledger_page(
    session: Session,
    viewer: Viewer,
    *,
    page: int = 1,
    page_size: int = 25,
    sort: str = "-order_date",
    **filters: Any,
) -> tuple[list[LedgerRow], int, dict[str, Decimal]]:
    query = ledger_query(viewer, **filters)
    sub = query.subquery()
    totals = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sub.c.total_amount), 0),
            func.coalesce(func.sum(sub.c.paid), 0),
            func.coalesce(func.sum(sub.c.outstanding), 0),
        ).select_from(sub)
    ).one()
    column = SORTS.get(sort.lstrip("-"), Order.order_date)
    ordered = query.order_by(column.desc() if sort.startswith("-") else column.asc(), Order.id.desc())
    rows = session.execute(ordered.limit(page_size).offset((page - 1) * page_size)).all()
    return (
        [LedgerRow(*tuple(row)) for row in rows],  # type: ignore[arg-type]
        int(totals[0]),
        {"amount": Decimal(totals[1]), "paid": Decimal(totals[2]), "outstanding": Decimal(totals[3])},
    )
