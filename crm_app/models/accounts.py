"""Accounts of three kinds (customers, partners, suppliers), their contacts, shares and favourites."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import (
    MONEY,
    PERCENT,
    Base,
    CustomFieldsMixin,
    SoftDeleteMixin,
    TimestampedMixin,
    choice,
)

ACCOUNT_KINDS = ("customer", "partner", "supplier")
LIFECYCLE_STAGES = ("prospect", "opportunity", "signed", "end_user", "lost")
ACCOUNT_SIZES = ("micro", "small", "medium", "large", "enterprise")
ACCOUNT_TIERS = ("A", "B", "C", "D")
ACQUISITION_SOURCES = ("campaign", "referral", "web", "trade_show", "cold_call", "partner", "import", "other")


class PricePolicy(TimestampedMixin, SoftDeleteMixin, Base):
    """A price agreement: a default discount plus special prices per product or category."""

    __tablename__ = "price_policies"
    __table_args__ = (
        CheckConstraint("default_discount_pct >= 0 and default_discount_pct <= 100", name="discount_range"),
    )

    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    default_discount_pct: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    valid_from: Mapped[dt.date | None]
    valid_to: Mapped[dt.date | None]
    is_active: Mapped[bool] = mapped_column(default=True)

    items: Mapped[list[PricePolicyItem]] = relationship(back_populates="policy", cascade="all, delete-orphan")


class PricePolicyItem(TimestampedMixin, Base):
    __tablename__ = "price_policy_items"
    __table_args__ = (
        CheckConstraint("product_id is not null or category_id is not null", name="target"),
        CheckConstraint("discount_pct is null or (discount_pct >= 0 and discount_pct <= 100)", name="discount_range"),
    )

    price_policy_id: Mapped[int] = mapped_column(ForeignKey("price_policies.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"), index=True)
    discount_pct: Mapped[Decimal | None] = mapped_column(PERCENT)
    fixed_price: Mapped[Decimal | None] = mapped_column(MONEY)

    policy: Mapped[PricePolicy] = relationship(back_populates="items")


class Account(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_kind_name", "kind", "name"),
        CheckConstraint("credit_limit is null or credit_limit >= 0", name="credit_limit_non_negative"),
    )

    kind: Mapped[str] = mapped_column(choice("account_kind", *ACCOUNT_KINDS), default="customer")
    name: Mapped[str] = mapped_column(String(200), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    lifecycle_stage: Mapped[str | None] = mapped_column(choice("lifecycle_stage", *LIFECYCLE_STAGES), index=True)
    tier: Mapped[str | None] = mapped_column(choice("account_tier", *ACCOUNT_TIERS))
    industry: Mapped[str | None] = mapped_column(String(80), index=True)
    region: Mapped[str | None] = mapped_column(String(80), index=True)
    city: Mapped[str | None] = mapped_column(String(80), index=True)  # a search's start as typed (migration 0011)
    size: Mapped[str | None] = mapped_column(choice("account_size", *ACCOUNT_SIZES))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(choice("acquisition_source", *ACQUISITION_SOURCES))
    source_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # indexed below, with deleted_at
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # indexed below, with the name
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    price_policy_id: Mapped[int | None] = mapped_column(ForeignKey("price_policies.id"))
    credit_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    notes: Mapped[str | None] = mapped_column(Text)

    parent: Mapped[Account | None] = relationship(remote_side="Account.id")
    contacts: Mapped[list[Contact]] = relationship(back_populates="account")


# Case-insensitive "starts with" search of the account list: one index range on the lowered value, live
# rows picked from the index too (deleted_at second), so counting the matches never reads the table
# (migration 0004; PostgreSQL needs the name itself in the index for that). Not partial: PostgreSQL keeps
# statistics on the expression of a full index only.
Index("ix_accounts_name_lower", func.lower(Account.name), Account.deleted_at, postgresql_include=["name"])
Index("ix_accounts_external_ref_lower", func.lower(Account.external_ref), Account.deleted_at)
# The same for the city (migration 0011): a search for a city is a "starts with" too, not a read of every account
Index("ix_accounts_city_lower", func.lower(Account.city), Account.deleted_at)
# A person's live accounts — the first part of what a sales rep sees (crm_app.services.visibility) — read
# from the index alone, and those whose name starts with a search, as one range of it (migrations 0006 and
# 0007; PostgreSQL needs the id, and the name under lower(name), in it for that; SQLite has the id in every index).
Index(
    "ix_accounts_owner_id_name_lower",
    Account.owner_id,
    Account.deleted_at,
    func.lower(Account.name),
    postgresql_include=["id", "name"],
)
# The same for a department's live accounts — part of what a manager sees — and those whose name starts with a
# search (migration 0008, replacing the plain department_id index).
Index(
    "ix_accounts_department_id_name_lower",
    Account.department_id,
    Account.deleted_at,
    func.lower(Account.name),
    postgresql_include=["id", "name"],
)


class AccountShare(TimestampedMixin, Base):
    """An account shared with a user who does not own it (they may then see and work on it)."""

    __tablename__ = "account_shares"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    can_edit: Mapped[bool] = mapped_column(default=True)


class Contact(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "contacts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), index=True)
    title: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    mobile: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(default=False)
    birthday: Mapped[dt.date | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)

    account: Mapped[Account] = relationship(back_populates="contacts")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Favorite(TimestampedMixin, Base):
    """A record a user starred for quick access (any entity)."""

    __tablename__ = "favorites"
    __table_args__ = (UniqueConstraint("user_id", "entity", "entity_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[int]
