"""Business rules: the declaration of every entity the app and API offer (columns, search, filters, hooks)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app import schemas as s
from crm_app.errors import ConflictError, ValidationError
from crm_app.models import (
    ACCOUNT_KINDS,
    ACCOUNT_TIERS,
    LIFECYCLE_STAGES,
    ROLES,
    Account,
    Activity,
    Contact,
    Department,
    Opportunity,
    Order,
    ProductCategory,
    Quote,
    User,
)
from crm_app.models.marketing import (
    CAMPAIGN_KINDS,
    CAMPAIGN_STATUSES,
    CHANNELS,
    COMMUNICATION_STATUSES,
    MEMBER_STATUSES,
    SURVEY_KINDS,
)
from crm_app.models.organization import CUSTOM_FIELD_ENTITIES
from crm_app.models.purchasing import PURCHASE_KINDS, PURCHASE_STATUSES
from crm_app.models.sales import ORDER_KINDS, ORDER_STATUSES, QUOTE_STATUSES
from crm_app.models.service import ACTIVITY_KINDS, ACTIVITY_STATUSES, CASE_KINDS, CASE_SEVERITIES, CASE_STATUSES
from crm_app.security import MIN_PASSWORD_LENGTH, hash_password
from crm_app.services import (
    cases,
    communications,
    opportunities,
    orders,
    products,
    purchasing,
    records,
    surveys,
)
from crm_app.services.orders import LineInput
from crm_app.services.resources import Child, Column, FilterSpec, Resource
from crm_app.services.visibility import Viewer, get_visible, require_write

# ------------------------------------------------------------------------------------------- hooks


def _same_account(session: Session, values: Mapping[str, Any], account_id: int | None) -> None:
    """A contact or deal named on a record must belong to the record's account."""
    if account_id is None:
        return
    errors: dict[str, str] = {}
    for key, model in (("contact_id", Contact), ("opportunity_id", Opportunity)):
        ref = values.get(key)
        if ref is not None:
            found: Any = session.get(model, ref)
            if found is None or found.account_id != account_id:
                errors[key] = "belongs to another account"
    if errors:
        raise ValidationError("some references belong to another account", errors)


def _drop_none(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not (k in keys and v is None)}


def _line_inputs(lines: list[Mapping[str, Any]]) -> list[LineInput]:
    return [
        LineInput(
            quantity=Decimal(line["quantity"]),
            product_id=line.get("product_id"),
            unit_price=line.get("unit_price"),
            discount_pct=line.get("discount_pct"),
            description=line.get("description"),
        )
        for line in lines
    ]


def create_opportunity(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    _same_account(session, values, values["account_id"])
    return opportunities.create_opportunity(session, _drop_none(values, "probability", "stage_id"), viewer.user)


def update_opportunity(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
    _same_account(session, values, record.account_id)
    if "probability" in values and values["probability"] is None:
        values.pop("probability")
    return records.update_record(session, record, values, viewer.user, version)


def create_quote(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    lines = values.pop("lines")
    _same_account(session, values, values["account_id"])
    header = _drop_none(values, "price_policy_id", "quote_date", "department_id")
    return orders.create_quote(session, header, _line_inputs(lines), viewer.user)


def update_quote(session: Session, viewer: Viewer, record: Quote, values: dict[str, Any], version: int) -> Any:
    if record.status == "converted":
        raise ConflictError(f"quote {record.number} was converted to an order and can no longer change")
    lines = values.pop("lines", None)
    _same_account(session, values, record.account_id)
    records.update_record(session, record, values, viewer.user, version)
    if lines is not None:
        orders.replace_quote_lines(session, record, _line_inputs(lines), viewer.user, None)
    return record


def create_order(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    lines = values.pop("lines")
    _same_account(session, values, values["account_id"])
    if values.get("partner_id") is not None:
        partner = session.get(Account, values["partner_id"])
        if partner is None or partner.kind != "partner":
            raise ValidationError("choose a partner account", {"partner_id": "not a partner"})
    header = _drop_none(values, "order_date", "department_id")
    return orders.create_order(session, header, _line_inputs(lines), viewer.user)


def update_order(session: Session, viewer: Viewer, record: Order, values: dict[str, Any], version: int) -> Any:
    _same_account(session, values, record.account_id)
    return records.update_record(session, record, values, viewer.user, version)


def _writable_order(session: Session, viewer: Viewer, order_id: int) -> Order:
    order: Order = get_visible(session, viewer, "orders", order_id)
    require_write(session, viewer, "orders", order)
    return order


def create_payment(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    order = _writable_order(session, viewer, values["order_id"])
    return orders.record_payment(
        session,
        order,
        values["amount"],
        values["paid_on"],
        viewer.user,
        method=values.get("method") or "bank_transfer",
        reference=values.get("reference"),
        payment_plan_id=values.get("payment_plan_id"),
    )


def create_payment_plan(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    order = _writable_order(session, viewer, values["order_id"])
    return orders.add_payment_plan(
        session, order, values["due_date"], values["amount"], viewer.user, values.get("notes")
    )


def create_case(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    _same_account(session, values, values["account_id"])
    for key, model in (("order_id", Order),):
        if values.get(key) is not None:
            found = session.get(model, values[key])
            if found is None or found.account_id != values["account_id"]:
                raise ValidationError("the order belongs to another account", {key: "belongs to another account"})
    return cases.open_case(session, viewer, values)


def update_case(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
    _same_account(session, values, record.account_id)
    return records.update_record(session, record, values, viewer.user, version)


def create_activity(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    _same_account(session, values, values.get("account_id"))
    if values.get("recurrence_rule") and values.get("due_at") is None:
        raise ValidationError("a repeating task needs a first due date", {"due_at": "required for a repeat rule"})
    return records.create_record(session, Activity, values, viewer.user)


def update_activity(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
    _same_account(session, values, values.get("account_id", record.account_id))
    rule_after = values.get("recurrence_rule", record.recurrence_rule)
    due_after = values.get("due_at", record.due_at)
    if rule_after and due_after is None:
        raise ValidationError("a repeating task needs a first due date", {"due_at": "required for a repeat rule"})
    return records.update_record(session, record, values, viewer.user, version)


def create_communication(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    return communications.log_communication(session, viewer, values)


def create_template(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    from crm_app.models import Template

    communications.check_template(values)
    return records.create_record(session, Template, values, viewer.user)


def update_template(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
    communications.check_template(values)
    return records.update_record(session, record, values, viewer.user, version)


def create_survey_response(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    return surveys.record_response(session, viewer, values)


def create_user(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    values = dict(values)
    password = values.pop("password", None)
    if session.scalar(select(User.id).where(User.username == values["username"])) is not None:
        raise ValidationError(f"user {values['username']!r} already exists", {"username": "already taken"})
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", {"password": "too short"}
        )
    values["password_hash"] = hash_password(password) if password else None
    return records.create_record(session, User, values, viewer.user)


def update_user(session: Session, viewer: Viewer, record: User, values: dict[str, Any], version: int) -> Any:
    values = dict(values)
    password = values.pop("password", None)
    if password:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError(
                f"the password must have at least {MIN_PASSWORD_LENGTH} characters", {"password": "too short"}
            )
        values["password_hash"] = hash_password(password)
        values["failed_login_count"] = 0
        values["locked_until"] = None
    if record.id == viewer.id and values.get("role", record.role) != "admin":
        raise ValidationError("you cannot take away your own admin role", {"role": "keep admin for yourself"})
    record = records.update_record(session, record, values, viewer.user, version)
    if "password_hash" in values:
        # the audit log must never carry a password hash
        from crm_app.models import AuditLog

        last = session.scalar(
            select(AuditLog)
            .where(AuditLog.entity == "users", AuditLog.entity_id == record.id)
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
        if last is not None and "password_hash" in (last.changes or {}):
            last.changes = {**last.changes, "password_hash": ["***", "***"]}
            records.flush(session, "audit log")
    return record


def _no_cycle(session: Session, model: Any, record_id: int, parent_id: int | None) -> None:
    seen = {record_id}
    current = parent_id
    while current is not None:
        if current in seen:
            raise ValidationError("a record cannot sit below itself", {"parent_id": "would make a loop"})
        seen.add(current)
        current = session.scalar(select(model.parent_id).where(model.id == current))


def update_tree(model: Any) -> Any:
    def hook(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
        if "parent_id" in values:
            _no_cycle(session, model, record.id, values["parent_id"])
        return records.update_record(session, record, values, viewer.user, version)

    return hook


def update_account(session: Session, viewer: Viewer, record: Account, values: dict[str, Any], version: int) -> Any:
    if "parent_id" in values:
        _no_cycle(session, Account, record.id, values["parent_id"])
    return records.update_record(session, record, values, viewer.user, version)


def _plan_scope(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> None:
    if viewer.role != "manager":
        return
    if values.get("department_id") is not None and values["department_id"] not in viewer.department_tree:
        raise ValidationError("plan only for your own department", {"department_id": "not in your department"})
    if values.get("user_id") is not None:
        dept = session.scalar(select(User.department_id).where(User.id == values["user_id"]))
        if dept not in viewer.department_tree:
            raise ValidationError("plan only for people of your department", {"user_id": "not in your department"})
    if values.get("department_id") is None and values.get("user_id") is None:
        raise ValidationError("a manager plans for a department or a person", {"department_id": "required"})


def create_plan(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    from crm_app.models import SalesPlan

    _plan_scope(session, viewer, values)
    return records.create_record(session, SalesPlan, values, viewer.user)


def update_plan(session: Session, viewer: Viewer, record: Any, values: dict[str, Any], version: int) -> Any:
    merged = {"department_id": record.department_id, "user_id": record.user_id, **values}
    _plan_scope(session, viewer, merged)
    if "period_month" in values and values["period_month"] is not None:
        values["period_month"] = values["period_month"].replace(day=1)
    return records.update_record(session, record, values, viewer.user, version)


def create_purchase_order(session: Session, viewer: Viewer, values: dict[str, Any]) -> Any:
    return purchasing.create_purchase_order(session, viewer, _drop_none(values, "order_date"))


# ------------------------------------------------------------------------------------- declarations

OWNER = Column("owner_id", "Owner", "ref", "users")
CREATED = Column("created_at", "Created", "datetime")

RESOURCES: dict[str, Resource] = {}


def register(resource: Resource) -> Resource:
    RESOURCES[resource.name] = resource
    return resource


ACCOUNT_REFS = {
    "owner_id": "users",
    "department_id": "departments",
    "parent_id": "accounts",
    "price_policy_id": "price_policies",
    "source_campaign_id": "campaigns",
}
ACCOUNT_COLUMNS = (
    Column("name", "Name"),
    Column("kind", "Kind", "choice"),
    Column("lifecycle_stage", "Stage", "choice"),
    Column("tier", "Tier"),
    Column("industry", "Industry"),
    Column("region", "Region"),
    Column("city", "City"),
    OWNER,
    CREATED,
)
ACCOUNT_FILTERS = (
    FilterSpec("kind", "Kind", "choice", ACCOUNT_KINDS),
    FilterSpec("lifecycle_stage", "Stage", "choice", LIFECYCLE_STAGES),
    FilterSpec("tier", "Tier", "choice", ACCOUNT_TIERS),
    FilterSpec("region", "Region", "text"),
    FilterSpec("industry", "Industry", "text"),
    FilterSpec("owner_id", "Owner", "ref", ref="users"),
    FilterSpec("mine", "Only mine", "mine"),
)

register(
    Resource(
        "accounts",
        "Accounts",
        "Account",
        s.AccountRead,
        ACCOUNT_COLUMNS,
        s.AccountCreate,
        s.AccountUpdate,
        search=("name", "external_ref", "city", "email"),
        prefix_search=("name", "external_ref", "city"),
        filters=ACCOUNT_FILTERS,
        default_sort="name",
        refs=ACCOUNT_REFS,
        custom_entity="accounts",
        owner_field="owner_id",
        update_hook=update_account,
        section="Customers",
    )
)
register(
    Resource(
        "partners",
        "Partners",
        "Partner",
        s.AccountRead,
        (Column("name", "Name"), Column("parent_id", "Parent partner", "ref", "accounts"), *ACCOUNT_COLUMNS[4:]),
        search=("name", "external_ref", "city"),
        prefix_search=("name", "external_ref", "city"),
        filters=(FilterSpec("region", "Region", "text"), FilterSpec("mine", "Only mine", "mine")),
        default_sort="name",
        refs=ACCOUNT_REFS,
        owner_field="owner_id",
        base_filter=lambda: Account.kind == "partner",
        section="Partners & suppliers",
        entity="accounts",
    )
)
register(
    Resource(
        "suppliers",
        "Suppliers",
        "Supplier",
        s.AccountRead,
        (Column("name", "Name"), *ACCOUNT_COLUMNS[4:]),
        search=("name", "external_ref", "city"),
        prefix_search=("name", "external_ref", "city"),
        filters=(FilterSpec("region", "Region", "text"),),
        default_sort="name",
        refs=ACCOUNT_REFS,
        owner_field="owner_id",
        base_filter=lambda: Account.kind == "supplier",
        section="Partners & suppliers",
        entity="accounts",
    )
)
register(
    Resource(
        "contacts",
        "Contacts",
        "Contact",
        s.ContactRead,
        (
            Column("last_name", "Last name"),
            Column("first_name", "First name"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("title", "Title"),
            Column("email", "E-mail"),
            Column("phone", "Phone"),
            Column("is_primary", "Primary", "bool"),
            OWNER,
        ),
        s.ContactCreate,
        s.ContactUpdate,
        search=("first_name", "last_name", "email", "phone"),
        prefix_search=("last_name", "email"),
        filters=(FilterSpec("account_id", "Account", "ref", ref="accounts"), FilterSpec("mine", "Only mine", "mine")),
        default_sort="last_name",
        refs={"account_id": "accounts", "owner_id": "users"},
        custom_entity="contacts",
        owner_field="owner_id",
        section="Customers",
    )
)
register(
    Resource(
        "opportunities",
        "Opportunities",
        "Opportunity",
        s.OpportunityRead,
        (
            Column("name", "Name"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("stage_id", "Stage", "ref", "pipeline_stages"),
            Column("status", "Status", "choice"),
            Column("amount", "Amount", "money"),
            Column("probability", "Prob.", "probability"),
            Column("expected_close_date", "Expected close", "date"),
            OWNER,
        ),
        s.OpportunityCreate,
        s.OpportunityUpdate,
        search=("name",),
        filters=(
            FilterSpec("status", "Status", "choice", ("open", "won", "lost")),
            FilterSpec("stage_id", "Stage", "ref", ref="pipeline_stages"),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("owner_id", "Owner", "ref", ref="users"),
            FilterSpec("mine", "Only mine", "mine"),
        ),
        default_sort="-expected_close_date",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "stage_id": "pipeline_stages",
            "owner_id": "users",
            "source_campaign_id": "campaigns",
            "competitor_id": "competitors",
            "department_id": "departments",
        },
        custom_entity="opportunities",
        owner_field="owner_id",
        create_hook=create_opportunity,
        update_hook=update_opportunity,
        section="Sales",
    )
)
register(
    Resource(
        "quotes",
        "Quotes",
        "Quote",
        s.QuoteRead,
        (
            Column("number", "Number"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("opportunity_id", "Opportunity", "ref", "opportunities"),
            Column("status", "Status", "choice"),
            Column("quote_date", "Date", "date"),
            Column("valid_until", "Valid until", "date"),
            Column("total_amount", "Total", "money"),
            OWNER,
        ),
        s.QuoteCreate,
        s.QuoteUpdate,
        search=("number", "notes"),
        filters=(
            FilterSpec("status", "Status", "choice", QUOTE_STATUSES),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("mine", "Only mine", "mine"),
        ),
        default_sort="-quote_date",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "opportunity_id": "opportunities",
            "price_policy_id": "price_policies",
            "owner_id": "users",
            "order_id": "orders",
        },
        owner_field="owner_id",
        create_hook=create_quote,
        update_hook=update_quote,
        section="Sales",
    )
)
register(
    Resource(
        "orders",
        "Orders",
        "Order",
        s.OrderRead,
        (
            Column("number", "Number"),
            Column("kind", "Kind", "choice"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("order_date", "Date", "date"),
            Column("status", "Status", "choice"),
            Column("channel", "Channel", "choice"),
            Column("total_amount", "Total", "money"),
            OWNER,
        ),
        s.OrderCreate,
        s.OrderUpdate,
        search=("number", "external_ref"),
        prefix_search=("number",),
        filters=(
            FilterSpec("kind", "Kind", "choice", ORDER_KINDS),
            FilterSpec("status", "Status", "choice", ORDER_STATUSES),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("mine", "Only mine", "mine"),
        ),
        default_sort="-order_date",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "opportunity_id": "opportunities",
            "partner_id": "accounts",
            "owner_id": "users",
            "quote_id": "quotes",
            "return_of_id": "orders",
        },
        custom_entity="orders",
        owner_field="owner_id",
        create_hook=create_order,
        update_hook=update_order,
        section="Sales",
    )
)
register(
    Resource(
        "payments",
        "Payments",
        "Payment",
        s.PaymentRead,
        (
            Column("paid_on", "Paid on", "date"),
            Column("order_id", "Order", "ref", "orders"),
            Column("amount", "Amount", "money"),
            Column("method", "Method", "choice"),
            Column("reference", "Reference"),
        ),
        s.PaymentCreate,
        s.PaymentUpdate,
        search=("reference",),
        filters=(FilterSpec("order_id", "Order", "ref", ref="orders"),),
        default_sort="-paid_on",
        refs={"order_id": "orders", "payment_plan_id": "payment_plans", "recorded_by_id": "users"},
        create_hook=create_payment,
        section="Sales",
        nav=False,
    )
)
register(
    Resource(
        "payment_plans",
        "Payment plan",
        "Instalment",
        s.PaymentPlanRead,
        (
            Column("due_date", "Due", "date"),
            Column("order_id", "Order", "ref", "orders"),
            Column("kind", "Kind", "choice"),
            Column("amount", "Amount", "money"),
            Column("notes", "Notes", sortable=False),
        ),
        s.PaymentPlanCreate,
        s.PaymentPlanUpdate,
        filters=(FilterSpec("order_id", "Order", "ref", ref="orders"),),
        default_sort="due_date",
        refs={"order_id": "orders"},
        create_hook=create_payment_plan,
        section="Sales",
        nav=False,
    )
)
register(
    Resource(
        "activities",
        "Activities & tasks",
        "Activity",
        s.ActivityRead,
        (
            Column("subject", "Subject"),
            Column("kind", "Kind", "choice"),
            Column("status", "Status", "choice"),
            Column("due_at", "Due", "datetime"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("recurrence_rule", "Repeats", sortable=False),
            OWNER,
        ),
        s.ActivityCreate,
        s.ActivityUpdate,
        search=("subject", "description"),
        filters=(
            FilterSpec("kind", "Kind", "choice", ACTIVITY_KINDS),
            FilterSpec("status", "Status", "choice", ACTIVITY_STATUSES),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("mine", "Only mine", "mine"),
        ),
        default_sort="-due_at",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "opportunity_id": "opportunities",
            "case_id": "cases",
            "campaign_id": "campaigns",
            "owner_id": "users",
            "recurrence_parent_id": "activities",
        },
        custom_entity="activities",
        owner_field="owner_id",
        create_hook=create_activity,
        update_hook=update_activity,
        section="Service",
    )
)
register(
    Resource(
        "cases",
        "Cases",
        "Case",
        s.CaseRead,
        (
            Column("number", "Number"),
            Column("subject", "Subject"),
            Column("kind", "Kind", "choice"),
            Column("severity", "Severity", "choice"),
            Column("status", "Status", "choice"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("opened_at", "Opened", "datetime"),
            Column("satisfaction", "Satisfaction", "number"),
            OWNER,
        ),
        s.CaseCreate,
        s.CaseUpdate,
        search=("number", "subject"),
        filters=(
            FilterSpec("kind", "Kind", "choice", CASE_KINDS),
            FilterSpec("status", "Status", "choice", CASE_STATUSES),
            FilterSpec("severity", "Severity", "choice", CASE_SEVERITIES),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("mine", "Only mine", "mine"),
        ),
        default_sort="-opened_at",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "product_id": "products",
            "order_id": "orders",
            "owner_id": "users",
        },
        custom_entity="cases",
        owner_field="owner_id",
        create_hook=create_case,
        update_hook=update_case,
        section="Service",
    )
)
register(
    Resource(
        "campaigns",
        "Campaigns",
        "Campaign",
        s.CampaignRead,
        (
            Column("name", "Name"),
            Column("kind", "Kind", "choice"),
            Column("status", "Status", "choice"),
            Column("start_date", "Start", "date"),
            Column("end_date", "End", "date"),
            Column("budget", "Budget", "money"),
            Column("actual_cost", "Actual cost", "money"),
            OWNER,
        ),
        s.CampaignCreate,
        s.CampaignUpdate,
        search=("name",),
        filters=(
            FilterSpec("kind", "Kind", "choice", CAMPAIGN_KINDS),
            FilterSpec("status", "Status", "choice", CAMPAIGN_STATUSES),
        ),
        default_sort="-start_date",
        refs={"owner_id": "users"},
        owner_field="owner_id",
        section="Marketing",
    )
)
register(
    Resource(
        "campaign_members",
        "Campaign members",
        "Campaign member",
        s.CampaignMemberRead,
        (
            Column("campaign_id", "Campaign", "ref", "campaigns"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("contact_id", "Contact", "ref", "contacts"),
            Column("status", "Status", "choice"),
            Column("sent_at", "Sent", "datetime"),
            Column("responded_at", "Responded", "datetime"),
        ),
        s.CampaignMemberCreate,
        s.CampaignMemberUpdate,
        filters=(
            FilterSpec("campaign_id", "Campaign", "ref", ref="campaigns"),
            FilterSpec("status", "Status", "choice", MEMBER_STATUSES),
        ),
        default_sort="id",
        refs={"campaign_id": "campaigns", "account_id": "accounts", "contact_id": "contacts"},
        deletable=False,
        section="Marketing",
        nav=False,
    )
)
register(
    Resource(
        "communications",
        "Contact centre",
        "Communication",
        s.CommunicationRead,
        (
            Column("occurred_at", "When", "datetime"),
            Column("channel", "Channel", "choice"),
            Column("direction", "Direction", "choice"),
            Column("status", "Status", "choice"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("contact_id", "Contact", "ref", "contacts"),
            Column("subject", "Subject"),
            Column("user_id", "By", "ref", "users"),
        ),
        s.CommunicationCreate,
        s.CommunicationUpdate,
        search=("subject", "to_address"),
        filters=(
            FilterSpec("channel", "Channel", "choice", CHANNELS),
            FilterSpec("status", "Status", "choice", COMMUNICATION_STATUSES),
            FilterSpec("account_id", "Account", "ref", ref="accounts"),
            FilterSpec("campaign_id", "Campaign", "ref", ref="campaigns"),
        ),
        default_sort="-occurred_at",
        refs={
            "account_id": "accounts",
            "contact_id": "contacts",
            "campaign_id": "campaigns",
            "template_id": "templates",
            "user_id": "users",
        },
        create_hook=create_communication,
        owner_field=None,
        section="Marketing",
    )
)
register(
    Resource(
        "templates",
        "Message templates",
        "Template",
        s.TemplateRead,
        (Column("name", "Name"), Column("channel", "Channel", "choice"), Column("subject", "Subject")),
        s.TemplateCreate,
        s.TemplateUpdate,
        search=("name", "subject"),
        filters=(FilterSpec("channel", "Channel", "choice", CHANNELS),),
        default_sort="name",
        create_hook=create_template,
        update_hook=update_template,
        section="Marketing",
    )
)
register(
    Resource(
        "surveys",
        "Surveys",
        "Survey",
        s.SurveyRead,
        (
            Column("name", "Name"),
            Column("kind", "Kind", "choice"),
            Column("campaign_id", "Campaign", "ref", "campaigns"),
            Column("is_active", "Active", "bool"),
        ),
        s.SurveyCreate,
        s.SurveyUpdate,
        search=("name",),
        filters=(FilterSpec("kind", "Kind", "choice", SURVEY_KINDS),),
        default_sort="name",
        refs={"campaign_id": "campaigns"},
        children=(Child("survey_responses", "survey_id", "Responses"),),
        section="Marketing",
    )
)
register(
    Resource(
        "survey_questions",
        "Survey questions",
        "Question",
        s.SurveyQuestionRead,
        (
            Column("survey_id", "Survey", "ref", "surveys"),
            Column("position", "#", "number"),
            Column("text", "Question"),
            Column("kind", "Kind", "choice"),
            Column("weight", "Weight", "number"),
        ),
        s.SurveyQuestionCreate,
        s.SurveyQuestionUpdate,
        filters=(FilterSpec("survey_id", "Survey", "ref", ref="surveys"),),
        default_sort="position",
        refs={"survey_id": "surveys"},
        deletable=False,
        section="Marketing",
        nav=False,
    )
)
register(
    Resource(
        "survey_responses",
        "Survey responses",
        "Response",
        s.SurveyResponseRead,
        (
            Column("responded_at", "When", "datetime"),
            Column("survey_id", "Survey", "ref", "surveys"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("opportunity_id", "Opportunity", "ref", "opportunities"),
            Column("score", "Score", "number"),
            Column("user_id", "By", "ref", "users"),
        ),
        s.SurveyResponseCreate,
        None,
        filters=(FilterSpec("survey_id", "Survey", "ref", ref="surveys"),),
        default_sort="-responded_at",
        refs={
            "survey_id": "surveys",
            "account_id": "accounts",
            "contact_id": "contacts",
            "opportunity_id": "opportunities",
            "case_id": "cases",
            "user_id": "users",
        },
        create_hook=create_survey_response,
        section="Marketing",
        nav=False,
    )
)
register(
    Resource(
        "competitors",
        "Competitors",
        "Competitor",
        s.CompetitorRead,
        (Column("name", "Name"), Column("website", "Website"), Column("strengths", "Strengths", sortable=False)),
        s.CompetitorCreate,
        s.CompetitorUpdate,
        search=("name",),
        default_sort="name",
        children=(
            Child("competitor_products", "competitor_id", "Products"),
            Child("competitor_orders", "competitor_id", "Business they won"),
            Child("opportunities", "competitor_id", "Deals where they compete"),
        ),
        section="Marketing",
    )
)
register(
    Resource(
        "competitor_products",
        "Competitor products",
        "Competitor product",
        s.CompetitorProductRead,
        (
            Column("name", "Name"),
            Column("competitor_id", "Competitor", "ref", "competitors"),
            Column("compared_product_id", "Compared with", "ref", "products"),
            Column("price", "Price", "money"),
        ),
        s.CompetitorProductCreate,
        s.CompetitorProductUpdate,
        search=("name",),
        filters=(FilterSpec("competitor_id", "Competitor", "ref", ref="competitors"),),
        default_sort="name",
        refs={"competitor_id": "competitors", "category_id": "product_categories", "compared_product_id": "products"},
        section="Marketing",
        nav=False,
    )
)
register(
    Resource(
        "competitor_orders",
        "Competitor orders",
        "Competitor order",
        s.CompetitorOrderRead,
        (
            Column("order_date", "Date", "date"),
            Column("competitor_id", "Competitor", "ref", "competitors"),
            Column("account_id", "Account", "ref", "accounts"),
            Column("competitor_product_id", "Product", "ref", "competitor_products"),
            Column("amount", "Amount", "money"),
        ),
        s.CompetitorOrderCreate,
        s.CompetitorOrderUpdate,
        filters=(FilterSpec("competitor_id", "Competitor", "ref", ref="competitors"),),
        default_sort="-order_date",
        refs={
            "competitor_id": "competitors",
            "account_id": "accounts",
            "competitor_product_id": "competitor_products",
            "opportunity_id": "opportunities",
        },
        section="Marketing",
        nav=False,
    )
)
register(
    Resource(
        "products",
        "Products",
        "Product",
        s.ProductRead,
        (
            Column("sku", "SKU"),
            Column("name", "Name"),
            Column("category_id", "Category", "ref", "product_categories"),
            Column("unit", "Unit"),
            Column("list_price", "List price", "money"),
            Column("unit_cost", "Unit cost", "money"),
            Column("is_active", "Active", "bool"),
        ),
        s.ProductCreate,
        s.ProductUpdate,
        search=("sku", "name"),
        prefix_search=("sku", "name"),
        filters=(
            FilterSpec("category_id", "Category", "ref", ref="product_categories"),
            FilterSpec("is_active", "Active", "bool"),
        ),
        default_sort="name",
        refs={"category_id": "product_categories"},
        custom_entity="products",
        children=(Child("competitor_products", "compared_product_id", "Competing products"),),
        section="Catalogue",
    )
)
register(
    Resource(
        "product_categories",
        "Product categories",
        "Category",
        s.ProductCategoryRead,
        (Column("name", "Name"), Column("code", "Code"), Column("parent_id", "Parent", "ref", "product_categories")),
        s.ProductCategoryCreate,
        s.ProductCategoryUpdate,
        search=("name", "code"),
        default_sort="name",
        refs={"parent_id": "product_categories"},
        update_hook=update_tree(ProductCategory),
        children=(Child("products", "category_id", "Products"),),
        section="Catalogue",
    )
)
register(
    Resource(
        "price_policies",
        "Price policies",
        "Price policy",
        s.PricePolicyRead,
        (
            Column("name", "Name"),
            Column("default_discount_pct", "Default discount", "percent"),
            Column("valid_from", "From", "date"),
            Column("valid_to", "To", "date"),
            Column("is_active", "Active", "bool"),
        ),
        s.PricePolicyCreate,
        s.PricePolicyUpdate,
        search=("name",),
        default_sort="name",
        children=(Child("price_policy_items", "price_policy_id", "Special prices"),),
        section="Catalogue",
    )
)
register(
    Resource(
        "price_policy_items",
        "Special prices",
        "Special price",
        s.PricePolicyItemRead,
        (
            Column("price_policy_id", "Policy", "ref", "price_policies"),
            Column("product_id", "Product", "ref", "products"),
            Column("category_id", "Category", "ref", "product_categories"),
            Column("discount_pct", "Discount", "percent"),
            Column("fixed_price", "Fixed price", "money"),
        ),
        s.PricePolicyItemCreate,
        s.PricePolicyItemUpdate,
        filters=(FilterSpec("price_policy_id", "Policy", "ref", ref="price_policies"),),
        default_sort="id",
        refs={"price_policy_id": "price_policies", "product_id": "products", "category_id": "product_categories"},
        deletable=False,
        section="Catalogue",
        nav=False,
    )
)
register(
    Resource(
        "document_templates",
        "Quote templates",
        "Quote template",
        s.DocumentTemplateRead,
        (Column("name", "Name"), Column("document", "For", "choice"), Column("notes", "Notes", sortable=False)),
        s.DocumentTemplateCreate,
        s.DocumentTemplateUpdate,
        search=("name",),
        default_sort="name",
        create_hook=lambda session, viewer, values: products.create_document_template(session, viewer, values),
        update_hook=lambda session, viewer, record, values, version: products.update_document_template(
            session, viewer, record, values, version
        ),
        section="Catalogue",
    )
)
register(
    Resource(
        "sales_plans",
        "Sales plans",
        "Sales plan",
        s.SalesPlanRead,
        (
            Column("period_month", "Month", "month"),
            Column("department_id", "Department", "ref", "departments"),
            Column("user_id", "Employee", "ref", "users"),
            Column("category_id", "Category", "ref", "product_categories"),
            Column("target_revenue", "Revenue target", "money"),
            Column("target_collections", "Collections target", "money"),
            Column("target_quantity", "Quantity target", "number"),
        ),
        s.SalesPlanCreate,
        s.SalesPlanUpdate,
        filters=(
            FilterSpec("department_id", "Department", "ref", ref="departments"),
            FilterSpec("user_id", "Employee", "ref", ref="users"),
        ),
        default_sort="-period_month",
        refs={"department_id": "departments", "user_id": "users", "category_id": "product_categories"},
        create_hook=create_plan,
        update_hook=update_plan,
        section="Management",
    )
)
register(
    Resource(
        "purchase_orders",
        "Purchase orders",
        "Purchase order",
        s.PurchaseOrderRead,
        (
            Column("number", "Number"),
            Column("kind", "Kind", "choice"),
            Column("supplier_id", "Supplier", "ref", "accounts"),
            Column("order_date", "Date", "date"),
            Column("status", "Status", "choice"),
            Column("total_amount", "Total", "money"),
        ),
        s.PurchaseOrderCreate,
        s.PurchaseOrderUpdate,
        search=("number",),
        filters=(
            FilterSpec("kind", "Kind", "choice", PURCHASE_KINDS),
            FilterSpec("status", "Status", "choice", PURCHASE_STATUSES),
            FilterSpec("supplier_id", "Supplier", "ref", ref="accounts"),
        ),
        default_sort="-order_date",
        refs={"supplier_id": "accounts", "return_of_id": "purchase_orders", "owner_id": "users"},
        create_hook=create_purchase_order,
        section="Partners & suppliers",
    )
)
register(
    Resource(
        "users",
        "Users",
        "User",
        s.UserRead,
        (
            Column("username", "Username"),
            Column("full_name", "Name"),
            Column("role", "Role", "choice"),
            Column("department_id", "Department", "ref", "departments"),
            Column("email", "E-mail"),
            Column("is_active", "Active", "bool"),
            Column("last_login_at", "Last login", "datetime"),
        ),
        s.UserCreate,
        s.UserUpdate,
        search=("username", "full_name", "email"),
        filters=(
            FilterSpec("role", "Role", "choice", ROLES),
            FilterSpec("department_id", "Department", "ref", ref="departments"),
        ),
        default_sort="full_name",
        refs={"department_id": "departments", "manager_id": "users"},
        custom_entity="users",
        create_hook=create_user,
        update_hook=update_user,
        section="Administration",
    )
)
register(
    Resource(
        "departments",
        "Departments",
        "Department",
        s.DepartmentRead,
        (
            Column("name", "Name"),
            Column("code", "Code"),
            Column("parent_id", "Part of", "ref", "departments"),
            Column("manager_id", "Manager", "ref", "users"),
        ),
        s.DepartmentCreate,
        s.DepartmentUpdate,
        search=("name", "code"),
        default_sort="name",
        refs={"parent_id": "departments", "manager_id": "users"},
        update_hook=update_tree(Department),
        children=(Child("departments", "parent_id", "Sub-departments"), Child("users", "department_id", "People")),
        section="Administration",
    )
)
register(
    Resource(
        "custom_fields",
        "Custom fields",
        "Custom field",
        s.CustomFieldRead,
        (
            Column("entity", "On", "choice"),
            Column("label", "Label"),
            Column("name", "Key"),
            Column("field_type", "Type", "choice"),
            Column("required", "Required", "bool"),
            Column("position", "Order", "number"),
        ),
        s.CustomFieldCreate,
        s.CustomFieldUpdate,
        search=("name", "label"),
        filters=(FilterSpec("entity", "On", "choice", CUSTOM_FIELD_ENTITIES),),
        default_sort="entity",
        section="Administration",
    )
)
register(
    Resource(
        "pipeline_stages",
        "Pipeline stages",
        "Stage",
        s.PipelineStageRead,
        (
            Column("position", "#", "number"),
            Column("name", "Name"),
            Column("probability", "Probability", "probability"),
            Column("is_closed", "Closed", "bool"),
            Column("is_won", "Won", "bool"),
        ),
        default_sort="position",
        deletable=False,
        section="Administration",
    )
)


def resource(name: str) -> Resource:
    from crm_app.errors import NotFoundError

    try:
        return RESOURCES[name]
    except KeyError:
        raise NotFoundError(f"no such kind of record: {name}") from None
