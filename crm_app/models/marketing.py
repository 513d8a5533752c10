"""Campaigns and their members, message templates and the communication log, surveys, competitors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import MONEY, Base, SoftDeleteMixin, TimestampedMixin, choice

CAMPAIGN_KINDS = ("email", "event", "webinar", "trade_show", "advertising", "telemarketing", "direct_mail")
CAMPAIGN_STATUSES = ("planned", "active", "completed", "cancelled")
MEMBER_STATUSES = ("targeted", "sent", "responded", "converted")
CHANNELS = ("email", "sms", "phone", "letter", "fax", "web")
DIRECTIONS = ("inbound", "outbound")
COMMUNICATION_STATUSES = ("draft", "queued", "sent", "delivered", "failed", "received")
SURVEY_KINDS = ("market", "service", "opportunity_evaluation")
QUESTION_KINDS = ("rating", "choice", "yes_no", "number", "text")


class Campaign(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("budget >= 0", name="budget_non_negative"),
        CheckConstraint("actual_cost >= 0", name="actual_cost_non_negative"),
        CheckConstraint("end_date is null or start_date is null or end_date >= start_date", name="dates_ordered"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(choice("campaign_kind", *CAMPAIGN_KINDS))
    status: Mapped[str] = mapped_column(choice("campaign_status", *CAMPAIGN_STATUSES), default="planned")
    start_date: Mapped[dt.date | None]
    end_date: Mapped[dt.date | None]
    budget: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    actual_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    content: Mapped[str | None] = mapped_column(Text)
    target_description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)


class CampaignMember(TimestampedMixin, Base):
    """An account targeted by a campaign and how far it got: targeted → sent → responded → converted."""

    __tablename__ = "campaign_members"
    __table_args__ = (UniqueConstraint("campaign_id", "account_id"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    status: Mapped[str] = mapped_column(choice("member_status", *MEMBER_STATUSES), default="targeted")
    added_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    converted_at: Mapped[dt.datetime | None]
    source_segment: Mapped[str | None] = mapped_column(String(120))


class Template(TimestampedMixin, SoftDeleteMixin, Base):
    """A message template with ``{placeholders}`` (e.g. ``{contact_name}``, ``{account_name}``)."""

    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(choice("template_channel", *CHANNELS))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)


class Communication(TimestampedMixin, SoftDeleteMixin, Base):
    """One message or call in the contact centre's multi-channel log."""

    __tablename__ = "communications"

    channel: Mapped[str] = mapped_column(choice("communication_channel", *CHANNELS))
    direction: Mapped[str] = mapped_column(choice("communication_direction", *DIRECTIONS), default="outbound")
    status: Mapped[str] = mapped_column(choice("communication_status", *COMMUNICATION_STATUSES), default="sent")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)


class Survey(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "surveys"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(choice("survey_kind", *SURVEY_KINDS))
    description: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    is_active: Mapped[bool] = mapped_column(default=True)

    questions: Mapped[list[SurveyQuestion]] = relationship(back_populates="survey", order_by="SurveyQuestion.position")


class SurveyQuestion(TimestampedMixin, Base):
    __tablename__ = "survey_questions"
    __table_args__ = (CheckConstraint("weight >= 0", name="weight_non_negative"),)

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(choice("question_kind", *QUESTION_KINDS))
    # choice questions: [{"label": "...", "score": 3}, ...]; rating: scale 1..max_score
    choices: Mapped[list[Any] | None] = mapped_column(JSON)
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("1"))
    max_score: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("5"))

    survey: Mapped[Survey] = relationship(back_populates="questions")


class SurveyResponse(TimestampedMixin, SoftDeleteMixin, Base):
    """One completed questionnaire; ``score`` is the weighted score in 0–100."""

    __tablename__ = "survey_responses"

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responded_at: Mapped[dt.datetime]
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))

    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates="response")


class SurveyAnswer(TimestampedMixin, Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id"), index=True)
    value_text: Mapped[str | None] = mapped_column(Text)
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")


class Competitor(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "competitors"

    name: Mapped[str] = mapped_column(String(160), unique=True)
    website: Mapped[str | None] = mapped_column(String(200))
    strengths: Mapped[str | None] = mapped_column(Text)
    weaknesses: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)


class CompetitorProduct(TimestampedMixin, SoftDeleteMixin, Base):
    """A competitor's product, compared with one of ours."""

    __tablename__ = "competitor_products"

    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"))
    compared_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    price: Mapped[Decimal | None] = mapped_column(MONEY)
    comparison: Mapped[str | None] = mapped_column(Text)


class CompetitorOrder(TimestampedMixin, SoftDeleteMixin, Base):
    """Business a competitor won at one of our accounts (known from the field)."""

    __tablename__ = "competitor_orders"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_non_negative"),)

    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    competitor_product_id: Mapped[int | None] = mapped_column(ForeignKey("competitor_products.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"))
    order_date: Mapped[dt.date]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    notes: Mapped[str | None] = mapped_column(Text)
