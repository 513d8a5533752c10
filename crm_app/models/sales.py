"""Pipeline stages, opportunities and their stage history, quotes, orders, payments, sales plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import (
    MONEY,
    PERCENT,
    PROBABILITY,
    QUANTITY,
    Base,
    CustomFieldsMixin,
    SoftDeleteMixin,
    TimestampedMixin,
    choice,
)

OPPORTUNITY_STATUSES = ("open", "won", "lost")
LOST_REASONS = (
    "price",
    "competitor",
    "product_fit",
    "timing",
    "no_budget",
    "no_decision",
    "relationship",
    "other",
)
QUOTE_STATUSES = ("draft", "sent", "accepted", "rejected", "expired", "converted")
ORDER_KINDS = ("sale", "return")
ORDER_STATUSES = ("draft", "confirmed", "shipped", "completed", "cancelled")
ORDER_CHANNELS = ("direct", "partner", "web", "phone", "retail")
PAYMENT_PLAN_KINDS = ("collection", "refund")
PAYMENT_METHODS = ("bank_transfer", "card", "cash", "cheque", "other")
TEMPLATE_DOCUMENTS = ("quote", "order")


class PipelineStage(TimestampedMixin, Base):
    """A configurable step of the sales funnel with its default win probability."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (
        CheckConstraint("probability >= 0 and probability <= 1", name="probability_range"),
        CheckConstraint("not is_won or is_closed", name="won_is_closed"),
    )

    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(unique=True)
    probability: Mapped[Decimal] = mapped_column(PROBABILITY)
    is_closed: Mapped[bool] = mapped_column(default=False)
    is_won: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)


class Opportunity(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("probability >= 0 and probability <= 1", name="probability_range"),
        CheckConstraint("status <> 'lost' or lost_reason is not null", name="lost_has_reason"),
        CheckConstraint("(status = 'open') = (closed_date is null)", name="closed_date_iff_closed"),
        Index("ix_opportunities_owner_id_status", "owner_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))  # indexed below, with deleted_at
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("pipeline_stages.id"))  # indexed below, with id
    status: Mapped[str] = mapped_column(choice("opportunity_status", *OPPORTUNITY_STATUSES), default="open")
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    probability: Mapped[Decimal] = mapped_column(PROBABILITY)
    expected_close_date: Mapped[dt.date | None] = mapped_column(index=True)
    closed_date: Mapped[dt.date | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # indexed below, with deleted_at
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    source_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    competitor_id: Mapped[int | None] = mapped_column(ForeignKey("competitors.id"), index=True)
    lost_reason: Mapped[str | None] = mapped_column(choice("lost_reason", *LOST_REASONS))
    lost_note: Mapped[str | None] = mapped_column(Text)
    evaluation_score: Mapped[Decimal | None] = mapped_column(PERCENT)
    description: Mapped[str | None] = mapped_column(Text)
    # The owner and department of the deal's account while it is live (NULL once it is deleted), kept by the
    # database's triggers (migration 0009), never set by the app: a manager's board tells from the deal's own row
    # whether they see its account (crm_app.services.visibility, Rule.account_mirror). Deferred: nothing else
    # reads them.
    account_owner_id: Mapped[int | None] = mapped_column(deferred=True)
    account_department_id: Mapped[int | None] = mapped_column(deferred=True)

    stage: Mapped[PipelineStage] = relationship()
    history: Mapped[list[OpportunityStageHistory]] = relationship(
        back_populates="opportunity",
        order_by="OpportunityStageHistory.changed_at, OpportunityStageHistory.id",
    )


# The pipeline board's per-stage count and amount of live deals (closed stages: the recent ones by
# closed_date), read from the index alone (migration 0004). Not partial: SQLite does not treat a partial
# index as covering when the query repeats its WHERE term, so deleted_at is a key column instead.
# The scope columns follow, and the account's mirrored owner and department, so a manager's board reads and
# checks each deal on the board from the index alone (migrations 0008, 0009; PostgreSQL needs the id in it for
# that, SQLite has it in every index).
Index(
    "ix_opportunities_board",
    Opportunity.stage_id,
    Opportunity.deleted_at,
    Opportunity.closed_date,
    Opportunity.amount,
    Opportunity.owner_id,
    Opportunity.department_id,
    Opportunity.account_id,
    Opportunity.account_owner_id,
    Opportunity.account_department_id,
    postgresql_include=["id"],
)
# A column's newest cards: its stage's deals newest first, one range read backwards, and on PostgreSQL checked
# against a manager's scope from the index alone (migration 0010; SQLite has every column a look-up away).
Index(
    "ix_opportunities_stage_id_id",
    Opportunity.stage_id,
    Opportunity.id,
    postgresql_include=[
        "account_id",
        "deleted_at",
        "closed_date",
        "owner_id",
        "department_id",
        "account_owner_id",
        "account_department_id",
    ],
)
# A person's live deals, and the live deals on an account — the parts of what a sales rep sees
# (crm_app.services.visibility) — read from the index alone (migration 0006, as the accounts' owner index).
Index("ix_opportunities_owner_id_deleted_at", Opportunity.owner_id, Opportunity.deleted_at, postgresql_include=["id"])
Index(
    "ix_opportunities_account_id_deleted_at", Opportunity.account_id, Opportunity.deleted_at, postgresql_include=["id"]
)


class OpportunityStageHistory(TimestampedMixin, Base):
    """Every stage an opportunity entered, written by the app on each change (funnel and cycle times)."""

    __tablename__ = "opportunity_stage_history"

    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("pipeline_stages.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    probability: Mapped[Decimal] = mapped_column(PROBABILITY)

    opportunity: Mapped[Opportunity] = relationship(back_populates="history")


class Quote(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "quotes"
    __table_args__ = (CheckConstraint("total_amount >= 0", name="total_non_negative"),)

    number: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    price_policy_id: Mapped[int | None] = mapped_column(ForeignKey("price_policies.id"))
    status: Mapped[str] = mapped_column(choice("quote_status", *QUOTE_STATUSES), default="draft")
    quote_date: Mapped[dt.date]
    valid_until: Mapped[dt.date | None]
    total_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", use_alter=True, name="fk_quotes_order_id_orders")
    )
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.position", cascade="all, delete-orphan"
    )


class LineMixin:
    """A priced line: gross = quantity × unit price; total = gross − discount (rounded to cents)."""

    position: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount_pct: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    discount_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    line_total: Mapped[Decimal] = mapped_column(MONEY)


def _line_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("discount_pct >= 0 and discount_pct <= 100", name="discount_range"),
        CheckConstraint("line_total >= 0", name="line_total_non_negative"),
    )


class QuoteLine(LineMixin, TimestampedMixin, Base):
    __tablename__ = "quote_lines"
    __table_args__ = _line_checks()

    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)

    quote: Mapped[Quote] = relationship(back_populates="lines")


class Order(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    """A sale, or a return pointing at the sale it returns. ``total_amount`` = Σ line totals."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount >= 0", name="total_non_negative"),
        CheckConstraint("(kind = 'return') = (return_of_id is not null)", name="return_points_at_sale"),
        Index("ix_orders_account_id_order_date", "account_id", "order_date"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    external_ref: Mapped[str | None] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(choice("order_kind", *ORDER_KINDS), default="sale")
    return_of_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(choice("order_channel", *ORDER_CHANNELS), default="direct")
    status: Mapped[str] = mapped_column(choice("order_status", *ORDER_STATUSES), default="confirmed")
    order_date: Mapped[dt.date] = mapped_column(index=True)
    total_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )
    return_of: Mapped[Order | None] = relationship(remote_side="Order.id")


class OrderLine(LineMixin, TimestampedMixin, Base):
    """An order line keeps the product's unit cost at the time of sale (gross margin uses it)."""

    __tablename__ = "order_lines"
    __table_args__ = (*_line_checks(), CheckConstraint("unit_cost >= 0", name="unit_cost_non_negative"))

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    unit_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    return_of_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))

    order: Mapped[Order] = relationship(back_populates="lines")


class PaymentPlan(TimestampedMixin, SoftDeleteMixin, Base):
    """An instalment of an order's execution plan: money to collect (or refund) by a due date."""

    __tablename__ = "payment_plans"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(choice("payment_plan_kind", *PAYMENT_PLAN_KINDS), default="collection")
    due_date: Mapped[dt.date] = mapped_column(index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    notes: Mapped[str | None] = mapped_column(Text)


class Payment(TimestampedMixin, SoftDeleteMixin, Base):
    """Money received for an order (or refunded for a return); never more than is due."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_plan_id: Mapped[int | None] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    paid_on: Mapped[dt.date] = mapped_column(index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    method: Mapped[str] = mapped_column(choice("payment_method", *PAYMENT_METHODS), default="bank_transfer")
    reference: Mapped[str | None] = mapped_column(String(80))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SalesPlan(TimestampedMixin, SoftDeleteMixin, Base):
    """A monthly target for a department, an employee and/or a product category."""

    __tablename__ = "sales_plans"
    __table_args__ = (
        CheckConstraint(
            "department_id is not null or user_id is not null or category_id is not null", name="has_target"
        ),
        CheckConstraint(
            "target_quantity >= 0 and target_revenue >= 0 and target_collections >= 0",
            name="targets_non_negative",
        ),
        Index("ix_sales_plans_period_month", "period_month"),
    )

    period_month: Mapped[dt.date]  # first day of the month
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"), index=True)
    target_quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=Decimal("0"))
    target_revenue: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    target_collections: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    target_margin: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))


class DocumentTemplate(TimestampedMixin, SoftDeleteMixin, Base):
    """A reusable set of lines to start a quote or an order from."""

    __tablename__ = "document_templates"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    document: Mapped[str] = mapped_column(choice("template_document", *TEMPLATE_DOCUMENTS))
    notes: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[DocumentTemplateLine]] = relationship(
        back_populates="template", order_by="DocumentTemplateLine.position", cascade="all, delete-orphan"
    )


class DocumentTemplateLine(TimestampedMixin, Base):
    __tablename__ = "document_template_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount_pct >= 0 and discount_pct <= 100", name="discount_range"),
    )

    template_id: Mapped[int] = mapped_column(ForeignKey("document_templates.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    discount_pct: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))

    template: Mapped[DocumentTemplate] = relationship(back_populates="lines")
