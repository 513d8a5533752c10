"""Business rules for activities and tasks: repeat rules (RFC 5545 via dateutil), due lists, completion."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Activity, utcnow
from crm_app.services import records
from crm_app.services.visibility import Viewer, require_write, restrict

MAX_OCCURRENCES = 200


def parse_rule(rule: str) -> str:
    """A normalised repeat rule, or ValueError with an example when it is not one."""
    text = rule.strip().upper().removeprefix("RRULE:")
    if "FREQ=" not in text:
        raise ValueError("a repeat rule needs FREQ, e.g. FREQ=WEEKLY;BYDAY=MO")
    try:
        parsed = rrulestr(text, dtstart=dt.datetime(2000, 1, 1))
        parsed.after(dt.datetime(2000, 1, 1))  # dateutil checks some parts only when expanding
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise ValueError("not a valid repeat rule (e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=MONTHLY;BYMONTHDAY=1)") from None
    return text


def occurrences(activity: Activity, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Due times of a repeating task between ``start`` and ``end`` (inclusive)."""
    if not activity.recurrence_rule or activity.due_at is None:
        return [activity.due_at] if activity.due_at and start <= activity.due_at <= end else []
    rule = rrulestr(activity.recurrence_rule, dtstart=activity.due_at)
    found: list[dt.datetime] = []
    for when in rule.xafter(max(start, activity.due_at), inc=True):  # type: ignore[attr-defined]
        if when > end or len(found) >= MAX_OCCURRENCES:
            break
        found.append(when)
    return found


@dataclass(frozen=True)
class DueTask:
    activity: Activity
    due_at: dt.datetime
    recurring: bool

    @property
    def overdue(self) -> bool:
        return self.due_at < utcnow()


def due_tasks(
    session: Session, viewer: Viewer, until: dt.datetime, *, lookback_days: int = 30, owner_id: int | None = None
) -> list[DueTask]:
    """Open tasks of ``owner_id`` (default: the viewer) due up to ``until``, repeating ones expanded."""
    owner = owner_id or viewer.id
    base = restrict(select(Activity), viewer, "activities").where(
        Activity.owner_id == owner, Activity.status == "open", Activity.due_at.is_not(None)
    )
    single = session.scalars(
        base.where(Activity.recurrence_rule.is_(None), Activity.due_at <= until).order_by(Activity.due_at).limit(200)
    ).all()
    tasks = [DueTask(a, a.due_at, False) for a in single if a.due_at is not None]
    repeating = session.scalars(base.where(Activity.recurrence_rule.is_not(None), Activity.due_at <= until)).all()
    start = until - dt.timedelta(days=lookback_days)
    for parent in repeating:
        done = set(
            session.scalars(
                select(Activity.due_at).where(Activity.recurrence_parent_id == parent.id, Activity.deleted_at.is_(None))
            )
        )
        for when in occurrences(parent, start, until):
            if when not in done:
                tasks.append(DueTask(parent, when, True))
    tasks.sort(key=lambda t: t.due_at)
    return tasks


def complete(
    session: Session,
    viewer: Viewer,
    activity: Activity,
    expected_version: int | None,
    occurrence: dt.datetime | None = None,
) -> Activity:
    """Mark a task done; for a repeating task, record that one occurrence as done (the series goes on)."""
    require_write(session, viewer, "activities", activity)
    if activity.recurrence_rule and occurrence is not None:
        if occurrence not in occurrences(activity, occurrence, occurrence):
            raise ValidationError("that date is not an occurrence of this task", {"occurrence": "not in the series"})
        values: dict[str, Any] = {
            "kind": activity.kind,
            "purpose": activity.purpose,
            "subject": activity.subject,
            "status": "done",
            "owner_id": activity.owner_id,
            "account_id": activity.account_id,
            "contact_id": activity.contact_id,
            "opportunity_id": activity.opportunity_id,
            "case_id": activity.case_id,
            "due_at": occurrence,
            "done_at": utcnow(),
            "recurrence_parent_id": activity.id,
        }
        return records.create_record(session, Activity, values, viewer.user)
    if activity.status == "done":
        return activity
    return records.update_record(
        session, activity, {"status": "done", "done_at": utcnow()}, viewer.user, expected_version
    )
