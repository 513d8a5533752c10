"""Purchase orders (and returns) to suppliers, and purchase plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import MONEY, QUANTITY, Base, SoftDeleteMixin, TimestampedMixin, choice

PURCHASE_KINDS = ("purchase", "return")
PURCHASE_STATUSES = ("draft", "ordered", "received", "cancelled")


class PurchaseOrder(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint("total_amount >= 0", name="total_non_negative"),
        CheckConstraint("(kind = 'return') = (return_of_id is not null)", name="return_points_at_purchase"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(choice("purchase_kind", *PURCHASE_KINDS), default="purchase")
    return_of_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(choice("purchase_status", *PURCHASE_STATUSES), default="ordered")
    order_date: Mapped[dt.date] = mapped_column(index=True)
    expected_date: Mapped[dt.date | None]
    total_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order", order_by="PurchaseOrderLine.position", cascade="all, delete-orphan"
    )


class PurchaseOrderLine(TimestampedMixin, Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_non_negative"),
    )

    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_cost: Mapped[Decimal] = mapped_column(MONEY)
    line_total: Mapped[Decimal] = mapped_column(MONEY)

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")


class PurchasePlan(TimestampedMixin, SoftDeleteMixin, Base):
    """Planned purchases of a product from a supplier for a month."""

    __tablename__ = "purchase_plans"
    __table_args__ = (CheckConstraint("planned_quantity > 0", name="quantity_positive"),)

    period_month: Mapped[dt.date] = mapped_column(index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    planned_quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    planned_unit_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
