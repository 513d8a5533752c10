"""Activities and tasks (with recurrence), and service cases (complaints, inquiries, repairs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_app.models.base import MONEY, Base, CustomFieldsMixin, SoftDeleteMixin, TimestampedMixin, choice

ACTIVITY_KINDS = ("call", "visit", "email", "meeting", "task", "note")
ACTIVITY_STATUSES = ("open", "done", "cancelled")
ACTIVITY_PURPOSES = ("sales", "service", "care", "marketing", "internal")
CASE_KINDS = ("complaint", "inquiry", "repair")
CASE_SEVERITIES = ("low", "medium", "high", "critical")
CASE_STATUSES = ("open", "in_progress", "resolved", "closed")


class Activity(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    """A call, visit, meeting, task or note; a task may repeat on an RFC 5545 rule (``FREQ=WEEKLY;...``)."""

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("expense >= 0", name="expense_non_negative"),
        Index("ix_activities_owner_id_status_due_at", "owner_id", "status", "due_at"),
    )

    kind: Mapped[str] = mapped_column(choice("activity_kind", *ACTIVITY_KINDS))
    purpose: Mapped[str] = mapped_column(choice("activity_purpose", *ACTIVITY_PURPOSES), default="sales")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(choice("activity_status", *ACTIVITY_STATUSES), default="open")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    due_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    duration_minutes: Mapped[int | None]
    expense: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    recurrence_rule: Mapped[str | None] = mapped_column(String(200))
    recurrence_parent_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"), index=True)
    # A key that makes "create the same care task twice" a no-op (e.g. "care:2026-11:account:42").
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)


class Case(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    """A service case; complaints follow open → in progress → resolved → closed (satisfaction at close)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("satisfaction is null or (satisfaction >= 1 and satisfaction <= 5)", name="satisfaction_range"),
        CheckConstraint("resolved_at is null or resolved_at >= opened_at", name="resolved_after_opened"),
    )

    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(choice("case_kind", *CASE_KINDS))
    severity: Mapped[str] = mapped_column(choice("case_severity", *CASE_SEVERITIES), default="medium")
    status: Mapped[str] = mapped_column(choice("case_status", *CASE_STATUSES), default="open", index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(index=True)
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None]
