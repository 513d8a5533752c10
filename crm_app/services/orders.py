"""Quotes and orders: priced lines, quote → order conversion, returns, payment plans and payments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ConflictError, ValidationError
from crm_app.models import (
    Account,
    Order,
    OrderLine,
    Payment,
    PaymentPlan,
    PricePolicy,
    Product,
    Quote,
    QuoteLine,
    User,
)
from crm_app.services.pricing import CENT, line_amounts, money, policy_price
from crm_app.services.records import (
    audit,
    check_version,
    create_record,
    flush,
    get_record,
    label,
    next_number,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class LineInput:
    """A line as a user enters it: a product (or a description), quantity, optional price and discount."""

    quantity: Decimal
    product_id: int | None = None
    unit_price: Decimal | None = None
    discount_pct: Decimal | None = None
    description: str | None = None


def _priced_lines(session: Session, lines: Sequence[LineInput], policy: PricePolicy | None) -> list[dict[str, Any]]:
    if not lines:
        raise ValidationError("add at least one line", {"lines": "at least one line is required"})
    priced = []
    for position, line in enumerate(lines, start=1):
        product = session.get(Product, line.product_id) if line.product_id is not None else None
        if line.product_id is not None and (product is None or product.deleted_at is not None):
            raise ValidationError(
                f"line {position}: product {line.product_id} does not exist",
                {f"lines.{position}.product_id": "unknown product"},
            )
        if product is None and line.unit_price is None:
            raise ValidationError(
                f"line {position}: a line without a product needs a unit price",
                {f"lines.{position}.unit_price": "required without a product"},
            )
        default_price, default_discount = policy_price(session, policy, product) if product else (ZERO, ZERO)
        unit_price = Decimal(line.unit_price) if line.unit_price is not None else default_price
        discount = Decimal(line.discount_pct) if line.discount_pct is not None else default_discount
        try:
            amounts = line_amounts(Decimal(line.quantity), unit_price, discount)
        except ValidationError as exc:
            raise ValidationError(
                f"line {position}: {exc}", {f"lines.{position}.{k}": v for k, v in exc.errors.items()}
            ) from None
        priced.append(
            {
                "position": position,
                "product_id": product.id if product else None,
                "description": line.description or (product.name if product else None),
                "quantity": Decimal(line.quantity),
                "unit_price": money(unit_price),
                "discount_pct": discount,
                "discount_amount": amounts.discount_amount,
                "line_total": amounts.line_total,
                "unit_cost": product.unit_cost if product else None,
            }
        )
    return priced


def _account(session: Session, account_id: int) -> Account:
    try:
        return get_record(session, Account, account_id)
    except Exception:
        raise ValidationError(f"account {account_id} does not exist", {"account_id": "unknown account"}) from None


# --------------------------------------------------------------------------------------------- quotes


def create_quote(session: Session, values: Mapping[str, Any], lines: Sequence[LineInput], actor: User | None) -> Quote:
    values = dict(values)
    account = _account(session, values["account_id"])
    values.setdefault("price_policy_id", account.price_policy_id)
    values.setdefault("quote_date", dt.date.today())
    values.setdefault("owner_id", actor.id if actor else account.owner_id)
    values.setdefault("department_id", actor.department_id if actor else account.department_id)
    policy = session.get(PricePolicy, values["price_policy_id"]) if values.get("price_policy_id") else None
    priced = _priced_lines(session, lines, policy)
    values["number"] = values.get("number") or next_number(session, Quote, "Q")
    values["total_amount"] = sum((p["line_total"] for p in priced), ZERO)
    quote = create_record(session, Quote, values, actor)
    for p in priced:
        p.pop("unit_cost")
        quote.lines.append(QuoteLine(**p))
    flush(session, label(quote))
    return quote


def replace_quote_lines(
    session: Session,
    quote: Quote,
    lines: Sequence[LineInput],
    actor: User | None,
    expected_version: int | None,
) -> Quote:
    check_version(quote, expected_version)
    if quote.status == "converted":
        raise ConflictError(f"quote {quote.number} was converted to an order and can no longer change")
    policy = session.get(PricePolicy, quote.price_policy_id) if quote.price_policy_id else None
    priced = _priced_lines(session, lines, policy)
    quote.lines.clear()
    flush(session, label(quote))
    for p in priced:
        p.pop("unit_cost")
        quote.lines.append(QuoteLine(**p))
    old_total = quote.total_amount
    quote.total_amount = sum((p["line_total"] for p in priced), ZERO)
    flush(session, label(quote))
    audit(
        session,
        actor,
        "update",
        quote,
        {"lines": len(priced), "total_amount": [str(old_total), str(quote.total_amount)]},
    )
    return quote


def convert_quote_to_order(
    session: Session,
    quote: Quote,
    actor: User | None,
    *,
    expected_version: int | None = None,
    order_date: dt.date | None = None,
    channel: str = "direct",
) -> Order:
    """Create a sale order with the quote's lines (prices as quoted, today's unit cost)."""
    check_version(quote, expected_version)
    if quote.order_id is not None or quote.status == "converted":
        raise ConflictError(f"quote {quote.number} was already converted to an order")
    if quote.status in ("rejected", "expired"):
        raise ConflictError(f"quote {quote.number} is {quote.status}; only a live quote becomes an order")
    if not quote.lines:
        raise ValidationError(f"quote {quote.number} has no lines to order", {"lines": "no lines"})
    order = create_order(
        session,
        {
            "account_id": quote.account_id,
            "contact_id": quote.contact_id,
            "opportunity_id": quote.opportunity_id,
            "quote_id": quote.id,
            "owner_id": quote.owner_id,
            "department_id": quote.department_id,
            "order_date": order_date or dt.date.today(),
            "channel": channel,
        },
        [
            LineInput(
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_pct=line.discount_pct,
                description=line.description,
            )
            for line in quote.lines
        ],
        actor,
    )
    quote.status = "converted"
    quote.order_id = order.id
    flush(session, label(quote))
    audit(session, actor, "convert", quote, {"order_id": order.id, "order_number": order.number})
    return order


# --------------------------------------------------------------------------------------------- orders


def create_order(session: Session, values: Mapping[str, Any], lines: Sequence[LineInput], actor: User | None) -> Order:
    """A sale order whose total is the sum of its priced lines; lines keep today's unit cost."""
    values = dict(values)
    if values.get("kind", "sale") != "sale":
        raise ValidationError("use create_return for returns", {"kind": "must be sale"})
    account = _account(session, values["account_id"])
    values.setdefault("owner_id", account.owner_id if actor is None else actor.id)
    values.setdefault("department_id", account.department_id)
    values.setdefault("order_date", dt.date.today())
    policy = session.get(PricePolicy, account.price_policy_id) if account.price_policy_id else None
    priced = _priced_lines(session, lines, policy)
    values["number"] = values.get("number") or next_number(session, Order, "SO")
    values["total_amount"] = sum((p["line_total"] for p in priced), ZERO)
    order = create_record(session, Order, {**values, "kind": "sale"}, actor)
    for p in priced:
        order.lines.append(OrderLine(**p))
    flush(session, label(order))
    return order


def returned_quantities(session: Session, order: Order) -> dict[int, Decimal]:
    """Quantity already returned per line of ``order`` (by earlier, non-deleted returns)."""
    rows = session.execute(
        select(OrderLine.return_of_line_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.return_of_id == order.id, Order.deleted_at.is_(None), Order.status != "cancelled")
        .group_by(OrderLine.return_of_line_id)
    ).all()
    return {line_id: Decimal(qty) for line_id, qty in rows if line_id is not None}


def create_return(
    session: Session,
    order: Order,
    quantities: Mapping[int, Decimal],
    actor: User | None,
    *,
    return_date: dt.date | None = None,
    notes: str | None = None,
) -> Order:
    """Return ``quantities`` (order line id → quantity) of a sale, at the prices it was sold for."""
    if order.kind != "sale":
        raise ValidationError("only a sale can be returned", {"return_of_id": "not a sale"})
    if not quantities:
        raise ValidationError("choose at least one line to return", {"lines": "nothing to return"})
    by_id = {line.id: line for line in order.lines}
    already = returned_quantities(session, order)
    new_lines = []
    for position, (line_id, qty) in enumerate(quantities.items(), start=1):
        line = by_id.get(line_id)
        if line is None:
            raise ValidationError(f"line {line_id} is not on order {order.number}", {f"lines.{line_id}": "unknown"})
        qty = Decimal(qty)
        left = line.quantity - already.get(line_id, ZERO)
        if qty <= 0 or qty > left:
            raise ValidationError(
                f"line {position}: can return between 0 and {left} of {line.description or line.product_id}",
                {f"lines.{line_id}.quantity": f"at most {left}"},
            )
        # Refund at the net price actually paid per unit, rounded down to the cent so that the line
        # arithmetic (quantity × unit price = total) holds and a refund never exceeds what was paid.
        net_unit = (line.line_total / line.quantity).quantize(CENT, rounding=ROUND_DOWN)
        total = line_amounts(qty, net_unit, ZERO).line_total
        new_lines.append(
            OrderLine(
                position=position,
                product_id=line.product_id,
                description=line.description,
                quantity=qty,
                unit_price=net_unit,
                discount_pct=ZERO,
                discount_amount=ZERO,
                line_total=total,
                unit_cost=line.unit_cost,
                return_of_line_id=line.id,
            )
        )
    ret = create_record(
        session,
        Order,
        {
            "number": next_number(session, Order, "RT"),
            "kind": "return",
            "return_of_id": order.id,
            "account_id": order.account_id,
            "contact_id": order.contact_id,
            "owner_id": order.owner_id,
            "department_id": order.department_id,
            "channel": order.channel,
            "order_date": return_date or dt.date.today(),
            "total_amount": sum((line.line_total for line in new_lines), ZERO),
            "notes": notes,
        },
        actor,
    )
    ret.lines.extend(new_lines)
    flush(session, label(ret))
    return ret


# ------------------------------------------------------------------------------------------- payments


def amount_paid(session: Session, order_id: int) -> Decimal:
    return Decimal(
        session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.order_id == order_id, Payment.deleted_at.is_(None)
            )
        )
        or 0
    )


def amount_planned(session: Session, order_id: int) -> Decimal:
    return Decimal(
        session.scalar(
            select(func.coalesce(func.sum(PaymentPlan.amount), 0)).where(
                PaymentPlan.order_id == order_id, PaymentPlan.deleted_at.is_(None)
            )
        )
        or 0
    )


def outstanding(session: Session, order: Order) -> Decimal:
    """What is still due on ``order`` (a refund still owed, for a return)."""
    return order.total_amount - amount_paid(session, order.id)


def add_payment_plan(
    session: Session,
    order: Order,
    due_date: dt.date,
    amount: Decimal,
    actor: User | None,
    notes: str | None = None,
) -> PaymentPlan:
    amount = money(amount)
    if amount <= 0:
        raise ValidationError("a planned amount must be positive", {"amount": "must be greater than zero"})
    planned = amount_planned(session, order.id)
    if planned + amount > order.total_amount:
        raise ValidationError(
            f"the plan would schedule {planned + amount} but order {order.number} totals {order.total_amount}: "
            f"at most {order.total_amount - planned} more can be planned",
            {"amount": f"at most {order.total_amount - planned}"},
        )
    return create_record(
        session,
        PaymentPlan,
        {
            "order_id": order.id,
            "kind": "refund" if order.kind == "return" else "collection",
            "due_date": due_date,
            "amount": amount,
            "notes": notes,
        },
        actor,
    )


def record_payment(
    session: Session,
    order: Order,
    amount: Decimal,
    paid_on: dt.date,
    actor: User | None,
    *,
    method: str = "bank_transfer",
    reference: str | None = None,
    payment_plan_id: int | None = None,
) -> Payment:
    """Record money received (or refunded, for a return); never more than is still due."""
    amount = money(amount)
    if amount <= 0:
        raise ValidationError("a payment must be positive", {"amount": "must be greater than zero"})
    if order.status == "cancelled":
        raise ValidationError(f"order {order.number} is cancelled", {"order_id": "cancelled"})
    due = outstanding(session, order)
    if amount > due:
        raise ValidationError(
            f"payment of {amount} exceeds the {due} still due on order {order.number}",
            {"amount": f"at most {due}"},
        )
    if payment_plan_id is not None:
        plan = session.get(PaymentPlan, payment_plan_id)
        if plan is None or plan.order_id != order.id:
            raise ValidationError("the instalment is not part of this order", {"payment_plan_id": "unknown"})
    return create_record(
        session,
        Payment,
        {
            "order_id": order.id,
            "payment_plan_id": payment_plan_id,
            "paid_on": paid_on,
            "amount": amount,
            "method": method,
            "reference": reference,
            "recorded_by_id": actor.id if actor else None,
        },
        actor,
    )


def order_totals_consistent(orders: Iterable[Order]) -> list[str]:
    """Numbers of orders whose total differs from the sum of their lines (should be empty)."""
    return [o.number for o in orders if o.total_amount != sum((line.line_total for line in o.lines), ZERO)]
