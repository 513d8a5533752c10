"""Per-entity input schemas (XCreate, XUpdate, XRead): the one validation used by forms and the JSON API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from crm_app.models import ACCOUNT_KINDS, ACCOUNT_SIZES, ACCOUNT_TIERS, ACQUISITION_SOURCES, LIFECYCLE_STAGES, ROLES
from crm_app.models.marketing import (
    CAMPAIGN_KINDS,
    CAMPAIGN_STATUSES,
    CHANNELS,
    COMMUNICATION_STATUSES,
    DIRECTIONS,
    MEMBER_STATUSES,
    QUESTION_KINDS,
    SURVEY_KINDS,
)
from crm_app.models.organization import CUSTOM_FIELD_ENTITIES, CUSTOM_FIELD_TYPES
from crm_app.models.purchasing import PURCHASE_STATUSES
from crm_app.models.sales import (
    LOST_REASONS,
    ORDER_CHANNELS,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    QUOTE_STATUSES,
    TEMPLATE_DOCUMENTS,
)
from crm_app.models.service import (
    ACTIVITY_KINDS,
    ACTIVITY_PURPOSES,
    ACTIVITY_STATUSES,
    CASE_KINDS,
    CASE_SEVERITIES,
)
from crm_app.schemas.base import (
    CustomValues,
    Day,
    Email,
    Id,
    Identifier,
    LongText,
    Money,
    Name,
    NonNegativeQuantity,
    Percent,
    PositiveMoney,
    Probability,
    Quantity,
    Schema,
    Short,
    SmallInt,
    Timestamp,
    Weight,
    choice,
    make_read,
    make_update,
    text,
)

# ------------------------------------------------------------------------------------------ accounts


class AccountCreate(Schema):
    kind: choice(ACCOUNT_KINDS) = "customer"  # type: ignore[valid-type]
    name: Name
    external_ref: text(80) | None = None  # type: ignore[valid-type]
    lifecycle_stage: choice(LIFECYCLE_STAGES) | None = "prospect"  # type: ignore[valid-type]
    tier: choice(ACCOUNT_TIERS) | None = None  # type: ignore[valid-type]
    industry: Short | None = None  # type: ignore[valid-type]
    region: Short | None = None  # type: ignore[valid-type]
    city: Short | None = None  # type: ignore[valid-type]
    size: choice(ACCOUNT_SIZES) | None = None  # type: ignore[valid-type]
    phone: text(40) | None = None  # type: ignore[valid-type]
    email: Email | None = None
    website: text(200) | None = None  # type: ignore[valid-type]
    address: text(1000) | None = None  # type: ignore[valid-type]
    source: choice(ACQUISITION_SOURCES) | None = None  # type: ignore[valid-type]
    source_campaign_id: Id | None = None
    owner_id: Id | None = None
    department_id: Id | None = None
    parent_id: Id | None = Field(default=None, description="parent partner (partner hierarchy)")
    price_policy_id: Id | None = None
    credit_limit: Money | None = None
    notes: LongText | None = None  # type: ignore[valid-type]
    custom: CustomValues = None


AccountUpdate = make_update(AccountCreate, "AccountUpdate")
AccountRead = make_read(AccountCreate, "AccountRead")


class ContactCreate(Schema):
    account_id: Id
    first_name: text(80, 1)  # type: ignore[valid-type]
    last_name: text(80, 1)  # type: ignore[valid-type]
    title: text(120) | None = None  # type: ignore[valid-type]
    email: Email | None = None
    phone: text(40) | None = None  # type: ignore[valid-type]
    mobile: text(40) | None = None  # type: ignore[valid-type]
    is_primary: bool = False
    birthday: Day | None = None
    owner_id: Id | None = None
    notes: LongText | None = None  # type: ignore[valid-type]
    custom: CustomValues = None


ContactUpdate = make_update(ContactCreate, "ContactUpdate")
ContactRead = make_read(ContactCreate, "ContactRead")

# ------------------------------------------------------------------------------------------- sales


class OpportunityCreate(Schema):
    name: Name
    account_id: Id
    contact_id: Id | None = None
    stage_id: Id | None = Field(default=None, description="an open stage; default: the first one")
    amount: Money = Decimal("0")
    probability: Probability | None = Field(default=None, description="default: the stage's probability")
    expected_close_date: Day | None = None
    owner_id: Id | None = None
    source_campaign_id: Id | None = None
    competitor_id: Id | None = None
    description: LongText | None = None  # type: ignore[valid-type]
    custom: CustomValues = None


OpportunityUpdate = make_update(OpportunityCreate, "OpportunityUpdate", exclude=("stage_id", "account_id"))
OpportunityRead = make_read(
    OpportunityCreate,
    "OpportunityRead",
    extra={
        "status": str | None,
        "closed_date": Any,
        "lost_reason": str | None,
        "lost_note": str | None,
        "evaluation_score": Decimal | None,
        "department_id": int | None,
    },
)


class StageChange(Schema):
    """Move a deal to another stage; losing needs a reason (and the competitor when one won it)."""

    stage_id: Id
    version: Id
    lost_reason: choice(LOST_REASONS) | None = None  # type: ignore[valid-type]
    competitor_id: Id | None = None
    lost_note: text(2000) | None = None  # type: ignore[valid-type]


class LineIn(Schema):
    product_id: Id | None = None
    description: text(255) | None = None  # type: ignore[valid-type]
    quantity: Quantity
    unit_price: Money | None = None
    discount_pct: Percent | None = None


class LineRead(Schema):
    model_config = {"from_attributes": True, "extra": "ignore"}

    id: int
    position: int
    product_id: int | None = None
    description: str | None = None
    quantity: Decimal
    unit_price: Decimal
    discount_pct: Decimal
    discount_amount: Decimal
    line_total: Decimal


class QuoteCreate(Schema):
    account_id: Id
    contact_id: Id | None = None
    opportunity_id: Id | None = None
    price_policy_id: Id | None = None
    status: choice(tuple(s for s in QUOTE_STATUSES if s != "converted")) = "draft"  # type: ignore[valid-type]
    quote_date: Day | None = None
    valid_until: Day | None = None
    notes: LongText | None = None  # type: ignore[valid-type]
    lines: list[LineIn] = Field(min_length=1, max_length=200)


QuoteUpdate = make_update(QuoteCreate, "QuoteUpdate", exclude=("account_id", "price_policy_id", "quote_date"))
QuoteRead = make_read(
    QuoteCreate,
    "QuoteRead",
    exclude=("lines",),
    extra={
        "number": str,
        "total_amount": Decimal,
        "owner_id": int | None,
        "order_id": int | None,
        "lines": list[LineRead],
    },
)


class QuoteConvert(Schema):
    version: Id
    order_date: Day | None = None
    channel: choice(ORDER_CHANNELS) = "direct"  # type: ignore[valid-type]


class OrderCreate(Schema):
    account_id: Id
    contact_id: Id | None = None
    opportunity_id: Id | None = None
    partner_id: Id | None = None
    channel: choice(ORDER_CHANNELS) = "direct"  # type: ignore[valid-type]
    status: choice(ORDER_STATUSES) = "confirmed"  # type: ignore[valid-type]
    order_date: Day | None = None
    notes: LongText | None = None  # type: ignore[valid-type]
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    custom: CustomValues = None


OrderUpdate = make_update(
    OrderCreate, "OrderUpdate", exclude=("account_id", "lines", "opportunity_id", "order_date", "partner_id")
)
OrderRead = make_read(
    OrderCreate,
    "OrderRead",
    exclude=("lines",),
    extra={
        "number": str,
        "kind": str,
        "return_of_id": int | None,
        "quote_id": int | None,
        "owner_id": int | None,
        "total_amount": Decimal,
        "lines": list[LineRead],
    },
)


class ReturnLine(Schema):
    line_id: Id
    quantity: Quantity


class ReturnCreate(Schema):
    lines: list[ReturnLine] = Field(min_length=1, max_length=200)
    return_date: Day | None = None
    notes: text(2000) | None = None  # type: ignore[valid-type]


class PaymentCreate(Schema):
    order_id: Id
    amount: PositiveMoney
    paid_on: Day
    method: choice(PAYMENT_METHODS) = "bank_transfer"  # type: ignore[valid-type]
    reference: text(80) | None = None  # type: ignore[valid-type]
    payment_plan_id: Id | None = None


PaymentUpdate = make_update(PaymentCreate, "PaymentUpdate", exclude=("order_id", "amount", "payment_plan_id"))
PaymentRead = make_read(PaymentCreate, "PaymentRead", extra={"recorded_by_id": int | None})


class PaymentPlanCreate(Schema):
    order_id: Id
    due_date: Day
    amount: PositiveMoney
    notes: text(2000) | None = None  # type: ignore[valid-type]


PaymentPlanUpdate = make_update(PaymentPlanCreate, "PaymentPlanUpdate", exclude=("order_id", "amount"))
PaymentPlanRead = make_read(PaymentPlanCreate, "PaymentPlanRead", extra={"kind": str})


class SalesPlanCreate(Schema):
    period_month: Day = Field(description="any day of the month; stored as its first day")
    department_id: Id | None = None
    user_id: Id | None = None
    category_id: Id | None = None
    target_quantity: NonNegativeQuantity = Decimal("0")
    target_revenue: Money = Decimal("0")
    target_collections: Money = Decimal("0")
    target_margin: Money = Decimal("0")

    @model_validator(mode="after")
    def _has_target(self) -> SalesPlanCreate:
        if self.department_id is None and self.user_id is None and self.category_id is None:
            raise ValueError("a plan needs a department, an employee or a product category")
        self.period_month = self.period_month.replace(day=1)
        return self


SalesPlanUpdate = make_update(SalesPlanCreate, "SalesPlanUpdate")
SalesPlanRead = make_read(SalesPlanCreate, "SalesPlanRead")


class DocumentTemplateLineIn(Schema):
    product_id: Id
    quantity: Quantity
    discount_pct: Percent = Decimal("0")


class DocumentTemplateLineRead(Schema):
    model_config = {"from_attributes": True, "extra": "ignore"}

    id: int
    position: int
    product_id: int
    quantity: Decimal
    discount_pct: Decimal


class DocumentTemplateCreate(Schema):
    name: text(120, 1)  # type: ignore[valid-type]
    document: choice(TEMPLATE_DOCUMENTS) = "quote"  # type: ignore[valid-type]
    notes: LongText | None = None  # type: ignore[valid-type]
    lines: list[DocumentTemplateLineIn] = Field(default_factory=list, max_length=200)


DocumentTemplateUpdate = make_update(DocumentTemplateCreate, "DocumentTemplateUpdate")
DocumentTemplateRead = make_read(
    DocumentTemplateCreate, "DocumentTemplateRead", exclude=("lines",), extra={"lines": list[DocumentTemplateLineRead]}
)

# ------------------------------------------------------------------------------------------ service


class ActivityCreate(Schema):
    kind: choice(ACTIVITY_KINDS) = "task"  # type: ignore[valid-type]
    purpose: choice(ACTIVITY_PURPOSES) = "sales"  # type: ignore[valid-type]
    subject: Name
    description: LongText | None = None  # type: ignore[valid-type]
    status: choice(ACTIVITY_STATUSES) = "open"  # type: ignore[valid-type]
    owner_id: Id | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    opportunity_id: Id | None = None
    case_id: Id | None = None
    campaign_id: Id | None = None
    due_at: Timestamp | None = None
    done_at: Timestamp | None = None
    duration_minutes: SmallInt | None = None
    expense: Money = Decimal("0")
    recurrence_rule: text(200) | None = Field(  # type: ignore[valid-type]
        default=None, description="an RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=MO (needs a due date)"
    )
    custom: CustomValues = None

    @model_validator(mode="after")
    def _valid_rule(self) -> ActivityCreate:
        if self.recurrence_rule:
            from crm_app.services.activities import parse_rule

            self.recurrence_rule = parse_rule(self.recurrence_rule)
        return self


ActivityUpdate = make_update(ActivityCreate, "ActivityUpdate")
ActivityRead = make_read(ActivityCreate, "ActivityRead", extra={"recurrence_parent_id": int | None})


class CaseCreate(Schema):
    kind: choice(CASE_KINDS) = "complaint"  # type: ignore[valid-type]
    severity: choice(CASE_SEVERITIES) = "medium"  # type: ignore[valid-type]
    subject: Name
    description: LongText | None = None  # type: ignore[valid-type]
    account_id: Id
    contact_id: Id | None = None
    product_id: Id | None = None
    order_id: Id | None = None
    owner_id: Id | None = None
    custom: CustomValues = None


CaseUpdate = make_update(CaseCreate, "CaseUpdate", exclude=("account_id",))
CaseRead = make_read(
    CaseCreate,
    "CaseRead",
    extra={
        "number": str,
        "status": str,
        "opened_at": Any,
        "resolved_at": Any,
        "closed_at": Any,
        "resolution": str | None,
        "satisfaction": int | None,
    },
)


class CaseTransition(Schema):
    """A step of the complaint workflow: start, resolve (needs a resolution), close (needs satisfaction), reopen."""

    action: choice(("start", "resolve", "close", "reopen"))  # type: ignore[valid-type]
    version: Id
    resolution: text(5000) | None = None  # type: ignore[valid-type]
    satisfaction: int | None = Field(default=None, ge=1, le=5)


# ---------------------------------------------------------------------------------------- marketing


class CampaignCreate(Schema):
    name: Name
    kind: choice(CAMPAIGN_KINDS) = "email"  # type: ignore[valid-type]
    status: choice(CAMPAIGN_STATUSES) = "planned"  # type: ignore[valid-type]
    start_date: Day | None = None
    end_date: Day | None = None
    budget: Money = Decimal("0")
    actual_cost: Money = Decimal("0")
    content: LongText | None = None  # type: ignore[valid-type]
    target_description: LongText | None = None  # type: ignore[valid-type]
    owner_id: Id | None = None

    @model_validator(mode="after")
    def _dates(self) -> CampaignCreate:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("the end date is before the start date")
        return self


CampaignUpdate = make_update(CampaignCreate, "CampaignUpdate")
CampaignRead = make_read(CampaignCreate, "CampaignRead")


class CampaignMemberCreate(Schema):
    campaign_id: Id
    account_id: Id
    contact_id: Id | None = None
    status: choice(MEMBER_STATUSES) = "targeted"  # type: ignore[valid-type]


CampaignMemberUpdate = make_update(CampaignMemberCreate, "CampaignMemberUpdate", exclude=("campaign_id", "account_id"))
CampaignMemberRead = make_read(
    CampaignMemberCreate, "CampaignMemberRead", extra={"sent_at": Any, "responded_at": Any, "converted_at": Any}
)


class TemplateCreate(Schema):
    name: text(120, 1)  # type: ignore[valid-type]
    channel: choice(CHANNELS) = "email"  # type: ignore[valid-type]
    subject: text(200) | None = None  # type: ignore[valid-type]
    body: text(20_000, 1)  # type: ignore[valid-type]


TemplateUpdate = make_update(TemplateCreate, "TemplateUpdate")
TemplateRead = make_read(TemplateCreate, "TemplateRead")


class CommunicationCreate(Schema):
    channel: choice(CHANNELS)  # type: ignore[valid-type]
    direction: choice(DIRECTIONS) = "outbound"  # type: ignore[valid-type]
    status: choice(COMMUNICATION_STATUSES) = "sent"  # type: ignore[valid-type]
    account_id: Id | None = None
    contact_id: Id | None = None
    campaign_id: Id | None = None
    template_id: Id | None = None
    to_address: text(254) | None = None  # type: ignore[valid-type]
    subject: text(200) | None = None  # type: ignore[valid-type]
    body: LongText | None = None  # type: ignore[valid-type]
    occurred_at: Timestamp | None = None

    @model_validator(mode="after")
    def _about_someone(self) -> CommunicationCreate:
        if self.account_id is None and self.contact_id is None:
            raise ValueError("log a communication on an account or a contact")
        return self


CommunicationUpdate = make_update(CommunicationCreate, "CommunicationUpdate")
CommunicationRead = make_read(CommunicationCreate, "CommunicationRead", extra={"user_id": int | None, "error": Any})


class BatchSend(Schema):
    """Send a template to every member of a campaign (e-mail goes out by SMTP; other channels are logged)."""

    template_id: Id
    campaign_id: Id
    only_status: choice(MEMBER_STATUSES) | None = Field(  # type: ignore[valid-type]
        default="targeted", description="send to members in this status only (empty: everyone)"
    )


class SurveyCreate(Schema):
    name: Name
    kind: choice(SURVEY_KINDS) = "market"  # type: ignore[valid-type]
    description: LongText | None = None  # type: ignore[valid-type]
    campaign_id: Id | None = None
    is_active: bool = True


SurveyUpdate = make_update(SurveyCreate, "SurveyUpdate")
SurveyRead = make_read(SurveyCreate, "SurveyRead")


class ChoiceOption(Schema):
    label: text(200, 1)  # type: ignore[valid-type]
    score: Weight = Decimal("0")


class SurveyQuestionCreate(Schema):
    survey_id: Id
    position: SmallInt = 0
    text: text(2000, 1)  # type: ignore[valid-type]
    kind: choice(QUESTION_KINDS) = "rating"  # type: ignore[valid-type]
    choices: list[ChoiceOption] | None = Field(default=None, max_length=50)
    weight: Weight = Decimal("1")
    max_score: Weight = Decimal("5")

    @model_validator(mode="after")
    def _choices(self) -> SurveyQuestionCreate:
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice question needs its choices")
        if self.kind in ("rating", "number") and self.max_score <= 0:
            raise ValueError("the maximum score must be above zero")
        return self


SurveyQuestionUpdate = make_update(SurveyQuestionCreate, "SurveyQuestionUpdate", exclude=("survey_id",))
SurveyQuestionRead = make_read(SurveyQuestionCreate, "SurveyQuestionRead")


class AnswerIn(Schema):
    question_id: Id
    value: text(2000) | None = None  # type: ignore[valid-type]


class SurveyResponseCreate(Schema):
    survey_id: Id
    account_id: Id | None = None
    contact_id: Id | None = None
    opportunity_id: Id | None = None
    case_id: Id | None = None
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


SurveyResponseRead = make_read(
    SurveyResponseCreate,
    "SurveyResponseRead",
    exclude=("answers",),
    extra={"score": Decimal | None, "responded_at": Any, "user_id": int | None},
)


class CompetitorCreate(Schema):
    name: text(160, 1)  # type: ignore[valid-type]
    website: text(200) | None = None  # type: ignore[valid-type]
    strengths: LongText | None = None  # type: ignore[valid-type]
    weaknesses: LongText | None = None  # type: ignore[valid-type]
    notes: LongText | None = None  # type: ignore[valid-type]


CompetitorUpdate = make_update(CompetitorCreate, "CompetitorUpdate")
CompetitorRead = make_read(CompetitorCreate, "CompetitorRead")


class CompetitorProductCreate(Schema):
    competitor_id: Id
    name: Name
    category_id: Id | None = None
    compared_product_id: Id | None = None
    price: Money | None = None
    comparison: LongText | None = None  # type: ignore[valid-type]


CompetitorProductUpdate = make_update(CompetitorProductCreate, "CompetitorProductUpdate")
CompetitorProductRead = make_read(CompetitorProductCreate, "CompetitorProductRead")


class CompetitorOrderCreate(Schema):
    competitor_id: Id
    account_id: Id | None = None
    competitor_product_id: Id | None = None
    opportunity_id: Id | None = None
    order_date: Day
    amount: Money
    notes: LongText | None = None  # type: ignore[valid-type]


CompetitorOrderUpdate = make_update(CompetitorOrderCreate, "CompetitorOrderUpdate")
CompetitorOrderRead = make_read(CompetitorOrderCreate, "CompetitorOrderRead")

# ---------------------------------------------------------------------------------------- catalogue


class ProductCreate(Schema):
    sku: text(60, 1)  # type: ignore[valid-type]
    name: Name
    category_id: Id | None = None
    unit: text(20, 1) = "pcs"  # type: ignore[valid-type]
    list_price: Money
    unit_cost: Money = Decimal("0")
    is_active: bool = True
    description: LongText | None = None  # type: ignore[valid-type]
    custom: CustomValues = None


ProductUpdate = make_update(ProductCreate, "ProductUpdate")
ProductRead = make_read(ProductCreate, "ProductRead")


class ProductCategoryCreate(Schema):
    name: text(120, 1)  # type: ignore[valid-type]
    code: text(40, 1)  # type: ignore[valid-type]
    parent_id: Id | None = None


ProductCategoryUpdate = make_update(ProductCategoryCreate, "ProductCategoryUpdate")
ProductCategoryRead = make_read(ProductCategoryCreate, "ProductCategoryRead")


class PricePolicyCreate(Schema):
    name: text(120, 1)  # type: ignore[valid-type]
    description: LongText | None = None  # type: ignore[valid-type]
    default_discount_pct: Percent = Decimal("0")
    valid_from: Day | None = None
    valid_to: Day | None = None
    is_active: bool = True

    @model_validator(mode="after")
    def _dates(self) -> PricePolicyCreate:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid to is before valid from")
        return self


PricePolicyUpdate = make_update(PricePolicyCreate, "PricePolicyUpdate")
PricePolicyRead = make_read(PricePolicyCreate, "PricePolicyRead")


class PricePolicyItemCreate(Schema):
    price_policy_id: Id
    product_id: Id | None = None
    category_id: Id | None = None
    discount_pct: Percent | None = None
    fixed_price: Money | None = None

    @model_validator(mode="after")
    def _target(self) -> PricePolicyItemCreate:
        if self.product_id is None and self.category_id is None:
            raise ValueError("choose a product or a category")
        if self.discount_pct is None and self.fixed_price is None:
            raise ValueError("give a discount or a fixed price")
        return self


PricePolicyItemUpdate = make_update(PricePolicyItemCreate, "PricePolicyItemUpdate", exclude=("price_policy_id",))
PricePolicyItemRead = make_read(PricePolicyItemCreate, "PricePolicyItemRead")

# -------------------------------------------------------------------------------------- purchasing


class PurchaseLineIn(Schema):
    product_id: Id
    quantity: Quantity
    unit_cost: Money | None = Field(default=None, description="default: the product's unit cost")


class PurchaseLineRead(Schema):
    model_config = {"from_attributes": True, "extra": "ignore"}

    id: int
    position: int
    product_id: int
    quantity: Decimal
    unit_cost: Decimal
    line_total: Decimal


class PurchaseOrderCreate(Schema):
    supplier_id: Id
    status: choice(PURCHASE_STATUSES) = "ordered"  # type: ignore[valid-type]
    order_date: Day | None = None
    expected_date: Day | None = None
    notes: LongText | None = None  # type: ignore[valid-type]
    lines: list[PurchaseLineIn] = Field(min_length=1, max_length=200)


PurchaseOrderUpdate = make_update(
    PurchaseOrderCreate, "PurchaseOrderUpdate", exclude=("supplier_id", "lines", "order_date")
)
PurchaseOrderRead = make_read(
    PurchaseOrderCreate,
    "PurchaseOrderRead",
    exclude=("lines",),
    extra={
        "number": str,
        "kind": str,
        "return_of_id": int | None,
        "owner_id": int | None,
        "total_amount": Decimal,
        "lines": list[PurchaseLineRead],
    },
)

# ------------------------------------------------------------------------------------ organisation


class UserCreate(Schema):
    username: text(80, 1)  # type: ignore[valid-type]
    full_name: text(160, 1)  # type: ignore[valid-type]
    email: Email | None = None
    role: choice(ROLES) = "sales_rep"  # type: ignore[valid-type]
    department_id: Id | None = None
    manager_id: Id | None = None
    is_active: bool = True
    password: text(200) | None = Field(  # type: ignore[valid-type]
        default=None, description="at least 8 characters; never shown again", json_schema_extra={"writeOnly": True}
    )
    custom: CustomValues = None


UserUpdate = make_update(UserCreate, "UserUpdate", exclude=("username",))
UserRead = make_read(UserCreate, "UserRead", exclude=("password",), extra={"last_login_at": Any, "locked_until": Any})


class DepartmentCreate(Schema):
    name: text(120, 1)  # type: ignore[valid-type]
    code: text(40, 1)  # type: ignore[valid-type]
    parent_id: Id | None = None
    manager_id: Id | None = None


DepartmentUpdate = make_update(DepartmentCreate, "DepartmentUpdate")
DepartmentRead = make_read(DepartmentCreate, "DepartmentRead")


class CustomFieldCreate(Schema):
    entity: choice(CUSTOM_FIELD_ENTITIES)  # type: ignore[valid-type]
    name: Identifier = Field(description="lower-case letters, digits and _ (the key in `custom`)")
    label: text(120, 1)  # type: ignore[valid-type]
    field_type: choice(CUSTOM_FIELD_TYPES) = "text"  # type: ignore[valid-type]
    choices: list[text(80, 1)] | None = Field(default=None, max_length=100)  # type: ignore[valid-type]
    required: bool = False
    position: SmallInt = 0
    help_text: text(500) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _choices(self) -> CustomFieldCreate:
        if self.field_type == "choice" and not self.choices:
            raise ValueError("a choice field needs its choices")
        return self


CustomFieldUpdate = make_update(CustomFieldCreate, "CustomFieldUpdate", exclude=("entity", "name"))
CustomFieldRead = make_read(CustomFieldCreate, "CustomFieldRead")


class PipelineStageRead(Schema):
    model_config = {"from_attributes": True, "extra": "ignore"}

    id: int
    name: str
    position: int
    probability: Decimal
    is_closed: bool
    is_won: bool
    is_active: bool
