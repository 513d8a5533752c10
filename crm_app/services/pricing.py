"""Line arithmetic shared by quotes, orders and templates, and price-policy lookup."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import PricePolicy, PricePolicyItem, Product

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def money(value: Decimal | int | float | str) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    gross: Decimal
    discount_amount: Decimal
    line_total: Decimal


def line_amounts(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> LineAmounts:
    """gross = quantity × unit price; discount = gross × pct / 100; total = gross − discount (cents)."""
    if quantity <= 0:
        raise ValidationError("quantity must be greater than zero", {"quantity": "must be greater than zero"})
    if unit_price < 0:
        raise ValidationError("unit price cannot be negative", {"unit_price": "cannot be negative"})
    if not (0 <= discount_pct <= HUNDRED):
        raise ValidationError("discount must be between 0 and 100 %", {"discount_pct": "must be between 0 and 100"})
    gross = money(Decimal(quantity) * Decimal(unit_price))
    discount = money(gross * Decimal(discount_pct) / HUNDRED)
    return LineAmounts(gross=gross, discount_amount=discount, line_total=gross - discount)


def policy_price(session: Session, policy: PricePolicy | None, product: Product) -> tuple[Decimal, Decimal]:
    """(unit price, discount %) for ``product`` under ``policy``: product item, else category item, else default."""
    if policy is None or not policy.is_active:
        return product.list_price, Decimal("0")
    items = session.scalars(
        select(PricePolicyItem).where(
            PricePolicyItem.price_policy_id == policy.id,
            (PricePolicyItem.product_id == product.id) | (PricePolicyItem.category_id == product.category_id),
        )
    ).all()
    item = next((i for i in items if i.product_id == product.id), None) or next(iter(items), None)
    if item is None:
        return product.list_price, policy.default_discount_pct
    price = item.fixed_price if item.fixed_price is not None else product.list_price
    discount = item.discount_pct if item.discount_pct is not None else policy.default_discount_pct
    return price, discount
