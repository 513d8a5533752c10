"""Product categories (a tree) and products with list price and unit cost."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import MONEY, Base, CustomFieldsMixin, SoftDeleteMixin, TimestampedMixin


class ProductCategory(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "product_categories"

    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"), index=True)

    parent: Mapped[ProductCategory | None] = relationship(remote_side="ProductCategory.id")


class Product(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("list_price >= 0", name="list_price_non_negative"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_non_negative"),
    )

    sku: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"), index=True)
    unit: Mapped[str] = mapped_column(String(20), default="pcs")
    list_price: Mapped[Decimal] = mapped_column(MONEY)
    unit_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    is_active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(Text)

    category: Mapped[ProductCategory | None] = relationship()
