"""The pipeline board's totals (migration 0010) as the database keeps them, and as worked out here."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.models import Account, Opportunity, User
from crm_app.models.derived import NO_DEPARTMENT, NOT_CLOSED, opportunity_board_totals

Key = tuple[int, dt.date, int, int, int, int]


def expected(session: Session) -> dict[Key, tuple[int, int]]:
    """The totals worked out here from the deals, their accounts and the people, independently of the database's
    triggers and of the deals' mirrored account columns: count and cents of the live deals per stage, closing day
    and the departments of the owner, the deal, the account's owner and the account (while it is live)."""
    session.expire_all()
    department = {user.id: user.department_id for user in session.scalars(select(User))}
    accounts = {account.id: account for account in session.scalars(select(Account))}
    counts: Counter[Key] = Counter()
    cents: Counter[Key] = Counter()
    for deal in session.scalars(select(Opportunity).where(Opportunity.deleted_at.is_(None))):
        account = accounts[deal.account_id]
        live = account.deleted_at is None
        key = (
            deal.stage_id,
            deal.closed_date or NOT_CLOSED,
            department.get(deal.owner_id) or NO_DEPARTMENT if deal.owner_id else NO_DEPARTMENT,
            deal.department_id or NO_DEPARTMENT,
            (department.get(account.owner_id) or NO_DEPARTMENT) if live and account.owner_id else NO_DEPARTMENT,
            (account.department_id or NO_DEPARTMENT) if live else NO_DEPARTMENT,
        )
        counts[key] += 1
        cents[key] += int(deal.amount * 100)
    return {key: (counts[key], cents[key]) for key in counts}


def kept(session: Session) -> dict[Key, tuple[int, int]]:
    t = opportunity_board_totals.c
    rows = session.execute(select(opportunity_board_totals).where((t.deals != 0) | (t.cents != 0)))
    return {
        (r.stage_id, r.closed_on, r.owner_department_id, r.department_id, r.account_owner_department_id,
         r.account_department_id): (r.deals, int(r.cents))
        for r in rows
    }  # fmt: skip
