"""Quotes, orders, returns and payments: the arithmetic and the limits a user would notice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ConflictError, ValidationError
from crm_app.models import Order, OrderLine, Payment, PricePolicy, PricePolicyItem
from crm_app.services.orders import (
    LineInput,
    add_payment_plan,
    convert_quote_to_order,
    create_order,
    create_quote,
    create_return,
    outstanding,
    record_payment,
)
from tests import factories

D = Decimal


def _order(session: Session) -> Order:
    account = factories.account(session)
    chair = factories.product(session, list_price="120.00", unit_cost="70.00")
    desk = factories.product(session, list_price="399.99", unit_cost="250.00")
    return create_order(
        session,
        {"account_id": account.id, "order_date": dt.date(2026, 3, 1)},
        [
            LineInput(product_id=chair.id, quantity=D("4"), discount_pct=D("10")),
            LineInput(product_id=desk.id, quantity=D("1")),
        ],
        None,
    )


def test_order_total_is_the_sum_of_lines_after_discounts(session: Session) -> None:
    order = _order(session)
    session.commit()
    chair, desk = order.lines
    assert (chair.discount_amount, chair.line_total) == (D("48.00"), D("432.00"))
    assert desk.line_total == D("399.99")
    assert order.total_amount == D("831.99") == sum(line.line_total for line in order.lines)
    assert chair.unit_cost == D("70.00")  # cost at the time of sale
    assert order.number.startswith("SO-")


def test_price_policy_sets_prices_and_discounts(session: Session) -> None:
    cat = factories.category(session)
    product = factories.product(session, list_price="100.00", category_id=cat.id)
    special = factories.product(session, list_price="50.00", category_id=cat.id)
    policy = PricePolicy(name="Key accounts", default_discount_pct=D("5"))
    session.add(policy)
    session.flush()
    session.add_all(
        [
            PricePolicyItem(price_policy_id=policy.id, category_id=cat.id, discount_pct=D("12")),
            PricePolicyItem(price_policy_id=policy.id, product_id=special.id, fixed_price=D("45.00")),
        ]
    )
    account = factories.account(session, price_policy_id=policy.id)
    quote = create_quote(
        session,
        {"account_id": account.id},
        [LineInput(product_id=product.id, quantity=D("1")), LineInput(product_id=special.id, quantity=D("2"))],
        None,
    )
    first, second = quote.lines
    assert (first.unit_price, first.discount_pct, first.line_total) == (D("100.00"), D("12"), D("88.00"))
    assert (second.unit_price, second.discount_pct, second.line_total) == (D("45.00"), D("5"), D("85.50"))


def test_bad_lines_are_refused_with_the_line_named(session: Session) -> None:
    account = factories.account(session)
    with pytest.raises(ValidationError, match="line 1: quantity"):
        create_order(session, {"account_id": account.id}, [LineInput(quantity=D("-1"), unit_price=D("5"))], None)
    with pytest.raises(ValidationError, match="line 1: product 999999 does not exist"):
        create_order(session, {"account_id": account.id}, [LineInput(product_id=999999, quantity=D("1"))], None)
    with pytest.raises(ValidationError, match="at least one line"):
        create_order(session, {"account_id": account.id}, [], None)
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_converting_a_quote_creates_an_order_with_its_lines_once(session: Session) -> None:
    account = factories.account(session)
    product = factories.product(session, list_price="10.00")
    quote = create_quote(
        session,
        {"account_id": account.id},
        [LineInput(product_id=product.id, quantity=D("3"), discount_pct=D("5"))],
        None,
    )
    order = convert_quote_to_order(session, quote, None, order_date=dt.date(2026, 4, 2))
    session.commit()
    assert quote.status == "converted" and quote.order_id == order.id and order.quote_id == quote.id
    assert [(ln.product_id, ln.quantity, ln.line_total) for ln in order.lines] == [(product.id, D("3"), D("28.50"))]
    assert order.total_amount == quote.total_amount
    with pytest.raises(ConflictError, match="already converted"):
        convert_quote_to_order(session, quote, None)
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_payments_never_exceed_what_is_due(session: Session) -> None:
    order = _order(session)
    record_payment(session, order, D("800.00"), dt.date(2026, 3, 10), None)
    with pytest.raises(ValidationError, match=r"exceeds the 31\.99 still due"):
        record_payment(session, order, D("32.00"), dt.date(2026, 3, 11), None)
    record_payment(session, order, D("31.99"), dt.date(2026, 3, 12), None)
    session.commit()
    assert outstanding(session, order) == D("0")
    assert session.scalar(select(func.sum(Payment.amount))) == order.total_amount


def test_payment_plan_cannot_schedule_more_than_the_order_total(session: Session) -> None:
    order = _order(session)
    add_payment_plan(session, order, dt.date(2026, 4, 1), D("500"), None)
    with pytest.raises(ValidationError, match=r"at most 331\.99"):
        add_payment_plan(session, order, dt.date(2026, 5, 1), D("400"), None)


def test_returns_point_at_their_sale_and_never_exceed_sold_quantities(session: Session) -> None:
    order = _order(session)
    chair = order.lines[0]
    ret = create_return(session, order, {chair.id: D("3")}, None, return_date=dt.date(2026, 3, 20))
    session.commit()
    assert (ret.kind, ret.return_of_id) == ("return", order.id)
    assert ret.total_amount == D("324.00")  # 3 of 4 at the net price paid (432 / 4)
    [line] = ret.lines
    assert line.return_of_line_id == chair.id and line.unit_cost == chair.unit_cost
    with pytest.raises(ValidationError, match="between 0 and 1"):
        create_return(session, order, {chair.id: D("2")}, None)
    assert (
        session.scalar(select(func.count()).select_from(OrderLine).where(OrderLine.return_of_line_id.is_not(None))) == 1
    )


def test_a_partial_return_refunds_no_more_than_was_paid_and_keeps_line_arithmetic(session: Session) -> None:
    account = factories.account(session)
    product = factories.product(session, list_price="10.00")
    order = create_order(
        session,
        {"account_id": account.id},
        [LineInput(product_id=product.id, quantity=D("6"), unit_price=D("1.67"))],
        None,
    )
    [line] = order.lines
    line.line_total = D("10.00")  # e.g. a rounded bundle price: 1.6667 a unit
    order.total_amount = D("10.00")
    ret = create_return(session, order, {line.id: D("6")}, None)
    [returned] = ret.lines
    assert (
        returned.unit_price == D("1.66") and returned.line_total == D("9.96") == returned.quantity * returned.unit_price
    )
    assert ret.total_amount <= order.total_amount
