"""Business rules behind the account pages: the account 360 view, "My day", and customers needing care."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, true
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
from crm_app.services.visibility import Viewer, get_visible, on_account, restrict

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
    payments: list[Any]
    plans: list[Any]
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


def account_360(session: Session, viewer: Viewer, account_id: int, limit: int = SECTION_LIMIT) -> Account360:
    """Everything about one visible account the viewer may see: people, deals, documents, money, service.

    Each section selects only the columns its table shows (the page is read far more often than any record
    is edited), and every row on an account the viewer sees is theirs to see (:func:`on_account`).
    """
    account: Account = get_visible(session, viewer, "accounts", account_id)

    def rows(entity: str, columns: tuple[Any, ...], order_by: Any) -> list[Any]:
        query = on_account(session, select(*columns), viewer, entity, account.id)
        return list(session.execute(query.order_by(order_by).limit(limit)))

    contacts = [
        {**row._mapping, "full_name": f"{row.first_name} {row.last_name}".strip()}
        for row in rows(
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
        )
    ]
    opportunities = rows(
        "opportunities",
        (
            Opportunity.id,
            Opportunity.name,
            Opportunity.status,
            Opportunity.stage_id,
            Opportunity.expected_close_date,
            Opportunity.amount,
            Opportunity.owner_id,
        ),
        Opportunity.created_at.desc(),
    )
    quotes = rows(
        "quotes", (Quote.id, Quote.number, Quote.quote_date, Quote.status, Quote.total_amount), Quote.quote_date.desc()
    )
    paid_on_order = (
        select(func.sum(Payment.amount))
        .where(Payment.order_id == Order.id, Payment.deleted_at.is_(None))
        .scalar_subquery()
        .label("paid")
    )
    orders = rows(
        "orders",
        (Order.id, Order.number, Order.kind, Order.status, Order.order_date, Order.total_amount, paid_on_order),
        Order.order_date.desc(),
    )
    cases = rows(
        "cases", (Case.id, Case.number, Case.subject, Case.kind, Case.status, Case.opened_at), Case.opened_at.desc()
    )
    order_rows = []
    for o in orders:
        paid = Decimal(o.paid or 0)
        order_rows.append(OrderRow(o, paid, o.total_amount - paid if o.status != "cancelled" else ZERO))
    payments = rows(
        "payments",
        (Payment.id, Payment.paid_on, Payment.order_id, Payment.method, Payment.amount),
        Payment.paid_on.desc(),
    )
    plans = rows(
        "payment_plans",
        (PaymentPlan.id, PaymentPlan.due_date, PaymentPlan.kind, PaymentPlan.amount),
        PaymentPlan.due_date.desc(),
    )
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
    stats = _account_stats(session, viewer, account)
    stats["outstanding"] = sum((r.outstanding for r in order_rows if r.order.kind == "sale"), ZERO)
    timeline = _timeline(session, viewer, account, orders, payments, [o.id for o in opportunities])
    return Account360(
        account=account,
        contacts=contacts,
        opportunities=opportunities,
        quotes=quotes,
        orders=order_rows,
        payments=payments,
        plans=plans,
        cases=cases,
        timeline=timeline,
        partners=partners,
        stats=stats,
    )


def _account_stats(session: Session, viewer: Viewer, account: Account) -> dict[str, Any]:
    """The tiles of the 360 view: four aggregates over the account's rows, sent as one statement."""
    revenue = on_account(
        session,
        select(
            func.coalesce(
                func.sum(case((Order.kind == "sale", Order.total_amount), else_=-Order.total_amount)), 0
            ).label("net_revenue"),
            func.count().label("orders"),
            func.max(Order.order_date).label("last_order"),
        ).where(Order.status != "cancelled"),
        viewer,
        "orders",
        account.id,
    ).subquery()
    pipeline = on_account(
        session,
        select(
            func.coalesce(func.sum(Opportunity.amount), 0).label("open_pipeline"),
            func.coalesce(func.sum(Opportunity.amount * Opportunity.probability), 0).label("weighted_pipeline"),
            func.count().label("open_deals"),
        ).where(Opportunity.status == "open"),
        viewer,
        "opportunities",
        account.id,
    ).subquery()
    open_cases = on_account(
        session,
        select(func.count().label("open_cases")).where(Case.status.in_(("open", "in_progress"))),
        viewer,
        "cases",
        account.id,
    ).subquery()
    satisfaction = on_account(
        session,
        select(func.avg(Case.satisfaction).label("satisfaction")).where(Case.satisfaction.is_not(None)),
        viewer,
        "cases",
        account.id,
    ).subquery()
    # each aggregate is exactly one row: joining them on TRUE puts the four side by side
    row = session.execute(
        select(revenue, pipeline, open_cases, satisfaction).select_from(
            revenue.join(pipeline, true()).join(open_cases, true()).join(satisfaction, true())
        )
    ).one()
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


def _timeline(
    session: Session,
    viewer: Viewer,
    account: Account,
    orders: list[Any],
    payments: list[Any],
    opportunity_ids: list[int],
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    activities = session.execute(
        on_account(
            session,
            select(
                Activity.id,
                Activity.kind,
                Activity.subject,
                Activity.status,
                Activity.done_at,
                Activity.due_at,
                Activity.created_at,
            ),
            viewer,
            "activities",
            account.id,
        )
        .order_by(func.coalesce(Activity.done_at, Activity.due_at, Activity.created_at).desc())
        .limit(TIMELINE_LIMIT)
    )
    for a in activities:
        when = a.done_at or a.due_at or a.created_at
        state = "done" if a.status == "done" else ("planned" if a.status == "open" else a.status)
        entries.append(
            TimelineEntry(when, "activity", f"{a.kind.title()}: {a.subject}", state, f"/activities/{a.id}", "✓")
        )
    communications = session.execute(
        on_account(
            session,
            select(
                Communication.id,
                Communication.channel,
                Communication.direction,
                Communication.subject,
                Communication.status,
                Communication.occurred_at,
                Communication.created_at,
            ),
            viewer,
            "communications",
            account.id,
        )
        .order_by(Communication.occurred_at.desc())
        .limit(TIMELINE_LIMIT)
    )
    for c in communications:
        entries.append(
            TimelineEntry(
                c.occurred_at or c.created_at,
                "communication",
                f"{c.channel.upper()} {c.direction}: {c.subject or '(no subject)'}",
                c.status,
                f"/communications/{c.id}",
                "✉",
            )
        )
    if opportunity_ids:
        history = session.execute(
            select(
                OpportunityStageHistory.changed_at,
                OpportunityStageHistory.opportunity_id,
                Opportunity.name,
                PipelineStage.name,
            )
            .join(Opportunity, Opportunity.id == OpportunityStageHistory.opportunity_id)
            .join(PipelineStage, PipelineStage.id == OpportunityStageHistory.to_stage_id)
            .where(OpportunityStageHistory.opportunity_id.in_(opportunity_ids))
            .order_by(OpportunityStageHistory.changed_at.desc())
            .limit(TIMELINE_LIMIT)
        ).all()
        for changed_at, opportunity_id, opp_name, stage_name in history:
            entries.append(
                TimelineEntry(
                    changed_at, "stage", f"Deal {opp_name} → {stage_name}", "", f"/opportunities/{opportunity_id}", "➜"
                )
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
