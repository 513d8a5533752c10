"""Business rules behind the account pages: the account 360 view, "My day", and customers needing care."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
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
    order: Order
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
    account: Account
    contacts: list[Contact]
    opportunities: list[Opportunity]
    quotes: list[Quote]
    orders: list[OrderRow]
    payments: list[Payment]
    plans: list[PaymentPlan]
    cases: list[Case]
    timeline: list[TimelineEntry]
    partners: list[Account]
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
    """Everything about one visible account the viewer may see: people, deals, documents, money, service."""
    account: Account = get_visible(session, viewer, "accounts", account_id)

    def rows(entity: str, model: Any, order_by: Any) -> list[Any]:
        query = on_account(session, select(model), viewer, entity, account.id)
        return list(session.scalars(query.order_by(order_by).limit(limit)))

    contacts = rows("contacts", Contact, Contact.is_primary.desc())
    opportunities = rows("opportunities", Opportunity, Opportunity.created_at.desc())
    quotes = rows("quotes", Quote, Quote.quote_date.desc())
    orders = rows("orders", Order, Order.order_date.desc())
    cases = rows("cases", Case, Case.opened_at.desc())
    paid = paid_by_order(session, [o.id for o in orders])
    order_rows = [
        OrderRow(o, paid.get(o.id, ZERO), o.total_amount - paid.get(o.id, ZERO) if o.status != "cancelled" else ZERO)
        for o in orders
    ]
    payments = list(
        session.scalars(
            on_account(session, select(Payment), viewer, "payments", account.id)
            .order_by(Payment.paid_on.desc())
            .limit(limit)
        )
    )
    plans = list(
        session.scalars(
            on_account(session, select(PaymentPlan), viewer, "payment_plans", account.id)
            .order_by(PaymentPlan.due_date.desc())
            .limit(limit)
        )
    )
    partners = (
        list(
            session.scalars(
                restrict(select(Account).where(Account.parent_id == account.id), viewer, "accounts")
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
    revenue = session.execute(
        on_account(
            session,
            select(
                func.coalesce(func.sum(case((Order.kind == "sale", Order.total_amount), else_=-Order.total_amount)), 0),
                func.count(),
                func.max(Order.order_date),
            ).where(Order.status != "cancelled"),
            viewer,
            "orders",
            account.id,
        )
    ).one()
    pipeline = session.execute(
        on_account(
            session,
            select(
                func.coalesce(func.sum(Opportunity.amount), 0),
                func.coalesce(func.sum(Opportunity.amount * Opportunity.probability), 0),
                func.count(),
            ).where(Opportunity.status == "open"),
            viewer,
            "opportunities",
            account.id,
        )
    ).one()
    open_cases = session.scalar(
        on_account(
            session,
            select(func.count()).where(Case.status.in_(("open", "in_progress"))),
            viewer,
            "cases",
            account.id,
        )
    )
    satisfaction = session.scalar(
        on_account(
            session,
            select(func.avg(Case.satisfaction)).where(Case.satisfaction.is_not(None)),
            viewer,
            "cases",
            account.id,
        )
    )
    return {
        "net_revenue": Decimal(revenue[0] or 0),
        "orders": int(revenue[1] or 0),
        "last_order": revenue[2],
        "open_pipeline": Decimal(pipeline[0] or 0),
        "weighted_pipeline": Decimal(pipeline[1] or 0).quantize(Decimal("0.01")),
        "open_deals": int(pipeline[2] or 0),
        "open_cases": int(open_cases or 0),
        "satisfaction": round(float(satisfaction), 1) if satisfaction is not None else None,
    }


def _timeline(
    session: Session,
    viewer: Viewer,
    account: Account,
    orders: list[Order],
    payments: list[Payment],
    opportunity_ids: list[int],
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    activities = session.scalars(
        on_account(session, select(Activity), viewer, "activities", account.id)
        .order_by(func.coalesce(Activity.done_at, Activity.due_at, Activity.created_at).desc())
        .limit(TIMELINE_LIMIT)
    )
    for a in activities:
        when = a.done_at or a.due_at or a.created_at
        state = "done" if a.status == "done" else ("planned" if a.status == "open" else a.status)
        entries.append(
            TimelineEntry(when, "activity", f"{a.kind.title()}: {a.subject}", state, f"/activities/{a.id}", "✓")
        )
    communications = session.scalars(
        on_account(session, select(Communication), viewer, "communications", account.id)
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
    history = session.execute(
        select(OpportunityStageHistory, Opportunity.name, PipelineStage.name)
        .join(Opportunity, Opportunity.id == OpportunityStageHistory.opportunity_id)
        .join(PipelineStage, PipelineStage.id == OpportunityStageHistory.to_stage_id)
        .where(OpportunityStageHistory.opportunity_id.in_(opportunity_ids))
        .order_by(OpportunityStageHistory.changed_at.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    for row, opp_name, stage_name in history:
        entries.append(
            TimelineEntry(
                row.changed_at,
                "stage",
                f"Deal {opp_name} → {stage_name}",
                "",
                f"/opportunities/{row.opportunity_id}",
                "➜",
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
