"""Business rules behind the account pages: the account 360 view, "My day", and customers needing care."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from crm_app.models import (
    Account,
    Activity,
    Case,
    Communication,
    Contact,
    Opportunity,
    OpportunityStageHistory,
    Order,
    Payment,
    PaymentPlan,
    PipelineStage,
    Quote,
    utcnow,
)
from crm_app.services.activities import DueTask, due_tasks
from crm_app.services.visibility import Viewer, account_rows, get_visible, restrict, sees_on_account

ZERO = Decimal("0")
TIMELINE_LIMIT = 25
SECTION_LIMIT = 10  # rows per section of the 360 view; each section links to its full list


@dataclass
class OrderRow:
    order: Any  # the order's shown columns (id, number, kind, status, order_date, total_amount)
    paid: Decimal
    outstanding: Decimal


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # activity, communication, stage, order, payment, case
    title: str
    detail: str = ""
    link: str | None = None
    icon: str = "•"


@dataclass
class Account360:
    """The account and, per section, the columns its page shows (plain rows, not whole records)."""

    account: Account
    contacts: list[dict[str, Any]]
    opportunities: list[Any]
    quotes: list[Any]
    orders: list[OrderRow]
    payments: list[PaymentRow]
    plans: list[PlanRow]
    cases: list[Any]
    timeline: list[TimelineEntry]
    partners: list[Any]
    stats: dict[str, Any] = field(default_factory=dict)


def paid_by_order(session: Session, order_ids: list[int]) -> dict[int, Decimal]:
    if not order_ids:
        return {}
    rows = session.execute(
        select(Payment.order_id, func.sum(Payment.amount))
        .where(Payment.order_id.in_(order_ids), Payment.deleted_at.is_(None))
        .group_by(Payment.order_id)
    ).all()
    return {order_id: Decimal(total or 0) for order_id, total in rows}


# the sections of the 360 view: whether the viewer sees each is decided once per request (sees_on_account)
SECTION_ENTITIES = (
    "contacts",
    "opportunities",
    "quotes",
    "orders",
    "cases",
    "payments",
    "payment_plans",
    "activities",
    "communications",
)


def account_360(session: Session, viewer: Viewer, account_id: int, limit: int = SECTION_LIMIT) -> Account360:
    """Everything about one visible account the viewer may see: people, deals, documents, money, service.

    Each section selects only the columns its table shows, and every row on an account the viewer sees is
    theirs to see (:func:`sees_on_account`). The statements depend on which sections the viewer sees, not on
    the account: they are built once (:func:`_statements_360`), as one statement, and run with the account as a
    parameter.
    """
    account: Account = get_visible(session, viewer, "accounts", account_id)
    seen = frozenset(e for e in SECTION_ENTITIES if sees_on_account(session, viewer, e, account.id))
    sections = _statements_360(seen, limit).run(session, {"account_id": account.id})
    contacts = [
        {**row._asdict(), "full_name": f"{row.first_name} {row.last_name}".strip()} for row in sections["contacts"]
    ]
    orders = sections["orders"]
    order_rows = []
    for o in orders:
        paid = Decimal(o.paid or 0)
        order_rows.append(OrderRow(o, paid, o.total_amount - paid if o.status != "cancelled" else ZERO))
    payments: list[PaymentRow] = []
    plans: list[PlanRow] = []
    for row in sections["money"]:
        if row.source == "payment":
            payments.append(PaymentRow(row.id, row.day, row.order_id, row.what, row.amount))
        else:
            plans.append(PlanRow(row.id, row.day, row.what, row.amount))
    partners = (
        list(
            session.execute(
                restrict(select(Account.id, Account.name).where(Account.parent_id == account.id), viewer, "accounts")
                .order_by(Account.name)
                .limit(limit)
            )
        )
        if account.kind == "partner"
        else []
    )
    stats = _stats(sections["stats"][0])
    stats["outstanding"] = sum((r.outstanding for r in order_rows if r.order.kind == "sale"), ZERO)
    timeline = _timeline(sections["timeline"], orders, payments)
    return Account360(
        account=account,
        contacts=contacts,
        opportunities=sections["opportunities"],
        quotes=sections["quotes"],
        orders=order_rows,
        payments=payments,
        plans=plans,
        cases=sections["cases"],
        timeline=timeline,
        partners=partners,
        stats=stats,
    )


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: int
    paid_on: dt.date
    order_id: int
    method: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: int
    due_date: dt.date
    kind: str
    amount: Decimal


@dataclass(frozen=True)
class Statements360:
    """The 360 view's sections — contacts, opportunities, quotes, orders, cases, money (payments and the payment
    plan), stats (the four tiles), timeline (activities, communications, stage changes) — as one statement: a
    UNION ALL of every section's rows, each tagged with its section's number and its position in the section, each
    section's columns in slots of their own (NULL in the other sections' rows). One statement instead of eight:
    sending one and reading its rows costs the app more than the database spends running it on an account's few
    rows (PostgreSQL, 100k customers: ~0.5 ms of the app's CPU per statement)."""

    statement: Any
    sections: tuple[tuple[str, Any, tuple[int, ...]], ...]  # (name, its row type, its slots in the wide row)

    def run(self, session: Session, params: dict[str, Any]) -> dict[str, list[Any]]:
        """Each section's rows, in its order, as named tuples of its own columns."""
        found: dict[str, list[Any]] = {name: [] for name, _, _ in self.sections}
        for row in session.execute(self.statement, params).all():
            name, shape, slots = self.sections[row[0]]
            found[name].append(shape._make([row[i] for i in slots]))
        return found


def _one_statement(parts: dict[str, Any]) -> Statements360:
    """``parts`` (section name: a select of its labelled columns and its ``position``) as one UNION ALL
    (:class:`Statements360`), ordered by section and position. The other sections' slots are NULLs cast to the
    slot's type, so that every member of the union agrees on each column's type (PostgreSQL resolves a bare NULL
    as text)."""
    subqueries = {name: part.subquery(name) for name, part in parts.items()}
    slots = [(name, column) for name, sub in subqueries.items() for column in _shown(sub)]
    members = []
    sections = []
    for number, (name, sub) in enumerate(subqueries.items()):
        columns = [
            column.label(f"c{i}") if section == name else cast(null(), column.type).label(f"c{i}")
            for i, (section, column) in enumerate(slots)
        ]
        members.append(select(literal_column(str(number), Integer()).label("section"), sub.c.position, *columns))
        mine = tuple(i + 2 for i, (section, _) in enumerate(slots) if section == name)  # after section, position
        shape = namedtuple(f"{name}_row", [column.key for section, column in slots if section == name])  # type: ignore[misc]
        sections.append((name, shape, mine))
    union = union_all(*members)
    ordered = union.order_by(union.selected_columns.section, union.selected_columns.position)
    return Statements360(ordered, tuple(sections))


@lru_cache(maxsize=32)
def _statements_360(seen: frozenset[str], limit: int) -> Statements360:
    """The 360 view's statements for a viewer who sees the sections ``seen``, the account a parameter.

    Built once per combination: building them (subqueries, unions, the account rule per section) costs more
    than running them on an account's few rows.
    """
    account_id = bindparam("account_id", type_=Integer())
    text = String()

    def on(entity: str, query: Any) -> Any:
        rows = account_rows(query, entity, account_id)
        return rows if entity in seen else rows.where(false())

    def section(entity: str, columns: tuple[Any, ...], *order_by: Any) -> Any:
        position = func.row_number().over(order_by=order_by).label("position")
        return on(entity, select(*columns, position)).order_by(position).limit(limit)

    newest_deals = Opportunity.created_at.desc()
    stage_name = (
        select(PipelineStage.name).where(PipelineStage.id == Opportunity.stage_id).scalar_subquery().label("stage_name")
    )
    opportunities = section(
        "opportunities",
        (
            Opportunity.id,
            Opportunity.name,
            Opportunity.status,
            Opportunity.stage_id,
            stage_name,
            Opportunity.expected_close_date,
            Opportunity.amount,
            Opportunity.owner_id,
        ),
        newest_deals,
    )
    paid = (
        select(func.sum(Payment.amount))
        .where(Payment.order_id == Order.id, Payment.deleted_at.is_(None))
        .scalar_subquery()
        .label("paid")
    )
    # each part's own order and LIMIT inside a subquery: SQLite refuses them on a bare UNION member
    payments = section(
        "payments",
        (
            literal("payment").label("source"),
            Payment.id,
            Payment.paid_on.label("day"),
            Payment.order_id,
            type_coerce(Payment.method, text).label("what"),
            Payment.amount,
        ),
        Payment.paid_on.desc(),
        Payment.id.desc(),
    ).subquery()
    plans = section(
        "payment_plans",
        (
            literal("plan").label("source"),
            PaymentPlan.id,
            PaymentPlan.due_date.label("day"),
            PaymentPlan.order_id,
            type_coerce(PaymentPlan.kind, text).label("what"),
            PaymentPlan.amount,
        ),
        PaymentPlan.due_date.desc(),
        PaymentPlan.id.desc(),
    ).subquery()
    # the timeline's stage changes are those of the deals the section shows
    shown_opportunities = on("opportunities", select(Opportunity.id)).order_by(newest_deals).limit(limit)
    return _one_statement(
        dict(
            contacts=section(
                "contacts",
                (
                    Contact.id,
                    Contact.first_name,
                    Contact.last_name,
                    Contact.title,
                    Contact.email,
                    Contact.phone,
                    Contact.mobile,
                    Contact.is_primary,
                ),
                Contact.is_primary.desc(),
            ),
            opportunities=opportunities,
            quotes=section(
                "quotes",
                (Quote.id, Quote.number, Quote.quote_date, Quote.status, Quote.total_amount),
                Quote.quote_date.desc(),
            ),
            orders=section(
                "orders",
                (Order.id, Order.number, Order.kind, Order.status, Order.order_date, Order.total_amount, paid),
                Order.order_date.desc(),
            ),
            cases=section(
                "cases",
                (Case.id, Case.number, Case.subject, Case.kind, Case.status, Case.opened_at),
                Case.opened_at.desc(),
            ),
            money=_in_order(union_all(select(*_shown(payments)), select(*_shown(plans))), "day"),
            stats=_stats_statement(on),
            timeline=_timeline_statement(on, shown_opportunities),
        )
    )


def _shown(part: Any) -> list[Any]:
    """A section's columns without the position it is ordered by (see :func:`_statements_360`, :func:`_in_order`)."""
    return [column for column in part.c if column.key != "position"]


def _stats_statement(on: Callable[[str, Any], Any]) -> Any:
    """The tiles of the 360 view: four aggregates over the account's rows, side by side in one row."""
    signed = case((Order.kind == "sale", Order.total_amount), else_=-Order.total_amount)
    revenue = on(
        "orders",
        select(
            func.coalesce(func.sum(signed), 0).label("net_revenue"),
            func.count().label("orders"),
            func.max(Order.order_date).label("last_order"),
        ).where(Order.status != "cancelled"),
    ).subquery()
    pipeline = on(
        "opportunities",
        select(
            func.coalesce(func.sum(Opportunity.amount), 0).label("open_pipeline"),
            func.coalesce(func.sum(Opportunity.amount * Opportunity.probability), 0).label("weighted_pipeline"),
            func.count().label("open_deals"),
        ).where(Opportunity.status == "open"),
    ).subquery()
    open_cases = on(
        "cases", select(func.count().label("open_cases")).where(Case.status.in_(("open", "in_progress")))
    ).subquery()
    satisfaction = on(
        "cases",
        select(func.avg(Case.satisfaction, type_=Float()).label("satisfaction")).where(Case.satisfaction.is_not(None)),
    ).subquery()
    # each aggregate is exactly one row: joined on TRUE they are one row
    one = literal_column("1", Integer()).label("position")
    return select(revenue, pipeline, open_cases, satisfaction, one).select_from(
        revenue.join(pipeline, true()).join(open_cases, true()).join(satisfaction, true())
    )


def _stats(row: Any) -> dict[str, Any]:
    return {
        "net_revenue": Decimal(row.net_revenue or 0),
        "orders": int(row.orders or 0),
        "last_order": row.last_order,
        "open_pipeline": Decimal(row.open_pipeline or 0),
        "weighted_pipeline": Decimal(row.weighted_pipeline or 0).quantize(Decimal("0.01")),
        "open_deals": int(row.open_deals or 0),
        "open_cases": int(row.open_cases or 0),
        "satisfaction": round(float(row.satisfaction), 1) if row.satisfaction is not None else None,
    }


def _timeline_statement(on: Callable[[str, Any], Any], shown_opportunities: Any) -> Any:
    """The latest activities, communications and stage changes of the shown deals, as one statement."""
    text = String()
    activity_at = func.coalesce(Activity.done_at, Activity.due_at, Activity.created_at)
    activities = (
        on(
            "activities",
            select(
                literal("activity").label("source"),
                Activity.id,
                activity_at.label("at"),
                type_coerce(Activity.kind, text).label("a"),
                type_coerce(Activity.subject, text).label("b"),
                type_coerce(Activity.status, text).label("c"),
                type_coerce(null(), text).label("d"),
            ),
        )
        .order_by(activity_at.desc(), Activity.id.desc())
        .limit(TIMELINE_LIMIT)
        .subquery()
    )
    communications = (
        on(
            "communications",
            select(
                literal("communication").label("source"),
                Communication.id,
                func.coalesce(Communication.occurred_at, Communication.created_at).label("at"),
                type_coerce(Communication.channel, text).label("a"),
                type_coerce(Communication.direction, text).label("b"),
                type_coerce(Communication.subject, text).label("c"),
                type_coerce(Communication.status, text).label("d"),
            ),
        )
        .order_by(Communication.occurred_at.desc(), Communication.id.desc())
        .limit(TIMELINE_LIMIT)
        .subquery()
    )
    stage_changes = (
        select(
            literal("stage").label("source"),
            OpportunityStageHistory.opportunity_id.label("id"),
            OpportunityStageHistory.changed_at.label("at"),
            type_coerce(Opportunity.name, text).label("a"),
            type_coerce(PipelineStage.name, text).label("b"),
            type_coerce(null(), text).label("c"),
            type_coerce(null(), text).label("d"),
        )
        .join(Opportunity, Opportunity.id == OpportunityStageHistory.opportunity_id)
        .join(PipelineStage, PipelineStage.id == OpportunityStageHistory.to_stage_id)
        .where(OpportunityStageHistory.opportunity_id.in_(shown_opportunities))
        .order_by(OpportunityStageHistory.changed_at.desc(), OpportunityStageHistory.id.desc())
        .limit(TIMELINE_LIMIT)
        .subquery()
    )
    # each source's own order and LIMIT inside a subquery: SQLite refuses them on a bare UNION member
    return _in_order(union_all(select(*activities.c), select(*communications.c), select(*stage_changes.c)), "at")


def _in_order(parts: Any, when: str) -> Any:
    """A union of sections numbered as a whole (SQL keeps no member's order by itself): by section, newest first
    (the later record first on the same day, as within each section)."""
    union = parts.subquery()
    order = (union.c.source, union.c[when].desc(), union.c.id.desc())
    return select(*union.c, func.row_number().over(order_by=order).label("position"))


def _timeline(rows: list[Any], orders: list[Any], payments: list[PaymentRow]) -> list[TimelineEntry]:
    """The newest entries of the account's history: activities, communications, stage changes (``rows``),
    orders and payments."""
    entries: list[TimelineEntry] = []
    for row in rows:
        if row.source == "activity":
            state = "done" if row.c == "done" else ("planned" if row.c == "open" else row.c)
            entries.append(
                TimelineEntry(row.at, "activity", f"{row.a.title()}: {row.b}", state, f"/activities/{row.id}", "✓")
            )
        elif row.source == "communication":
            entries.append(
                TimelineEntry(
                    row.at,
                    "communication",
                    f"{row.a.upper()} {row.b}: {row.c or '(no subject)'}",
                    row.d,
                    f"/communications/{row.id}",
                    "✉",
                )
            )
        else:
            entries.append(
                TimelineEntry(row.at, "stage", f"Deal {row.a} → {row.b}", "", f"/opportunities/{row.id}", "➜")
            )
    for o in orders:
        entries.append(
            TimelineEntry(
                dt.datetime.combine(o.order_date, dt.time()),
                "order",
                f"{'Return' if o.kind == 'return' else 'Order'} {o.number}",
                "",
                f"/orders/{o.id}",
                "▣",
            )
        )
    for p in payments:
        entries.append(
            TimelineEntry(
                dt.datetime.combine(p.paid_on, dt.time()), "payment", f"Payment {p.amount}", p.method, None, "$"
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


# ------------------------------------------------------------------------------------------- my day


@dataclass
class CareNeed:
    account: Account
    reasons: list[str]


@dataclass
class MyDay:
    tasks: list[DueTask]
    pipeline: list[tuple[PipelineStage, int, Decimal]]
    closing_soon: list[Opportunity]
    care: list[CareNeed]
    open_cases: list[Case]
    totals: dict[str, Any]


def my_day(session: Session, viewer: Viewer, now: dt.datetime | None = None) -> MyDay:
    """The viewer's working list: tasks due, their open pipeline, and their customers needing care."""
    now = now or utcnow()
    end_of_day = dt.datetime.combine(now.date(), dt.time(23, 59, 59))
    tasks = due_tasks(session, viewer, end_of_day)
    stage_rows = session.execute(
        select(PipelineStage, func.count(Opportunity.id), func.coalesce(func.sum(Opportunity.amount), 0))
        .join(Opportunity, Opportunity.stage_id == PipelineStage.id)
        .where(
            Opportunity.owner_id == viewer.id,
            Opportunity.status == "open",
            Opportunity.deleted_at.is_(None),
        )
        .group_by(PipelineStage.id)
        .order_by(PipelineStage.position)
    ).all()
    pipeline = [(stage, int(count), Decimal(amount)) for stage, count, amount in stage_rows]
    closing_soon = list(
        session.scalars(
            restrict(select(Opportunity), viewer, "opportunities")
            .where(
                Opportunity.owner_id == viewer.id,
                Opportunity.status == "open",
                Opportunity.expected_close_date <= (now + dt.timedelta(days=30)).date(),
            )
            .order_by(Opportunity.expected_close_date)
            .limit(10)
        )
    )
    open_cases = list(
        session.scalars(
            restrict(select(Case), viewer, "cases")
            .where(Case.owner_id == viewer.id, Case.status.in_(("open", "in_progress")))
            .order_by(Case.opened_at)
            .limit(10)
        )
    )
    care = customers_needing_care(session, viewer, now)
    totals = {
        "open_amount": sum((amount for _, _, amount in pipeline), ZERO),
        "weighted": sum((amount * stage.probability for stage, _, amount in pipeline), ZERO).quantize(Decimal("0.01")),
        "deals": sum(count for _, count, _ in pipeline),
        "overdue": sum(1 for t in tasks if t.due_at < now),
    }
    return MyDay(tasks, pipeline, closing_soon, care, open_cases, totals)


def customers_needing_care(session: Session, viewer: Viewer, now: dt.datetime, limit: int = 10) -> list[CareNeed]:
    """The viewer's own customers with an open complaint, an overdue instalment, or no contact for 90 days."""
    mine = select(Account.id).where(
        Account.owner_id == viewer.id, Account.deleted_at.is_(None), Account.kind == "customer"
    )
    reasons: dict[int, list[str]] = {}
    complaints = session.execute(
        select(Case.account_id, func.count())
        .where(
            Case.account_id.in_(mine),
            Case.kind == "complaint",
            Case.status.in_(("open", "in_progress")),
            Case.deleted_at.is_(None),
        )
        .group_by(Case.account_id)
        .limit(limit)
    ).all()
    for account_id, count in complaints:
        reasons.setdefault(account_id, []).append(f"{count} open complaint{'s' if count > 1 else ''}")
    paid = (
        select(Payment.order_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.deleted_at.is_(None))
        .group_by(Payment.order_id)
        .subquery()
    )
    overdue = session.execute(
        select(Order.account_id, func.min(PaymentPlan.due_date))
        .join(PaymentPlan, PaymentPlan.order_id == Order.id)
        .outerjoin(paid, paid.c.order_id == Order.id)
        .where(
            Order.account_id.in_(mine),
            Order.kind == "sale",
            Order.status != "cancelled",
            Order.deleted_at.is_(None),
            PaymentPlan.deleted_at.is_(None),
            PaymentPlan.due_date < now.date(),
            func.coalesce(paid.c.paid, 0) < Order.total_amount,
        )
        .group_by(Order.account_id)
        .limit(limit)
    ).all()
    for account_id, due in overdue:
        reasons.setdefault(account_id, []).append(f"payment overdue since {due:%d %b %Y}")
    cutoff = now - dt.timedelta(days=90)
    last_touch = (
        select(Activity.account_id, func.max(func.coalesce(Activity.done_at, Activity.created_at)).label("last"))
        .where(Activity.account_id.in_(mine), Activity.deleted_at.is_(None))
        .group_by(Activity.account_id)
        .subquery()
    )
    quiet = session.execute(
        select(Account.id)
        .outerjoin(last_touch, last_touch.c.account_id == Account.id)
        .where(
            Account.id.in_(mine),
            Account.lifecycle_stage.in_(("signed", "end_user")),
            func.coalesce(last_touch.c.last, Account.created_at) < cutoff,
        )
        .order_by(Account.id)
        .limit(limit)
    ).all()
    for (account_id,) in quiet:
        reasons.setdefault(account_id, []).append("no contact for 90 days")
    if not reasons:
        return []
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(list(reasons))))}
    needs = [CareNeed(accounts[i], r) for i, r in reasons.items() if i in accounts]
    needs.sort(key=lambda n: (-len(n.reasons), n.account.name))
    return needs[:limit]
