"""Business rules for customer care write-back: care-list rows from the warehouse become owners' care tasks."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Account, Activity, Base, User, utcnow
from crm_app.services.records import audit
from crm_app.services.visibility import Viewer, assignable_owner, can_write, require_write, restrict, visible_ids

ModelT = TypeVar("ModelT", bound=Base)

# What each kind of care-list row asks the owner to do (the manual: thank value customers, encourage
# value-changing ones, talk to problem customers). Unknown kinds get the generic verb.
CARE_ACTIONS = {
    "value": "Thank",
    "value_customer": "Thank",
    "value_changing": "Encourage",
    "value_change": "Encourage",
    "problem": "Talk to",
    "problem_customer": "Talk to",
}
DEFAULT_ACTION = "Follow up with"
DEFAULT_DUE_DAYS = 7
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PERIOD = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,23}$")
_CHUNK = 500  # ids per IN (...) list: well inside SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class CareItem:
    """One care-list row to act on: the account, why (kind + plain-language reason) and who should act."""

    account_id: int
    reason_kind: str
    reason: str
    period: str  # the care list's as-of date (or period), part of the dedupe key
    owner_id: int | None = None
    account_name: str | None = None

    @property
    def dedupe_key(self) -> str:
        return care_dedupe_key(self.period, self.account_id, self.reason_kind)


@dataclass
class CareResult:
    """What a "create care tasks" click did: tasks created, and rows skipped with the reason why."""

    created: list[int] = field(default_factory=list)
    already_existed: int = 0
    not_visible: int = 0

    def describe(self) -> str:
        parts = [f"{len(self.created)} care task{'s' if len(self.created) != 1 else ''} created"]
        if self.already_existed:
            parts.append(f"{self.already_existed} already existed (not created again)")
        if self.not_visible:
            parts.append(f"{self.not_visible} skipped: customers outside your scope or no longer in the CRM")
        return "; ".join(parts) + "."


def care_dedupe_key(period: str, account_id: int, reason_kind: str) -> str:
    """``care:<as_of or period>:<account_id>:<reason kind>`` — the same row clicked twice gives the same key."""
    return f"care:{period}:{account_id}:{reason_kind}"


def _check(items: Sequence[CareItem]) -> None:
    for item in items:
        if not _KIND.match(item.reason_kind):
            raise ValidationError(
                f"care reason kind {item.reason_kind!r} is not a short lower-case word (e.g. 'value_changing')",
                {"reason_kind": "invalid"},
            )
        if not _PERIOD.match(item.period):
            raise ValidationError(
                f"care period {item.period!r} is not a date or period label such as 2026-11-30",
                {"period": "invalid"},
            )
        if not item.reason.strip():
            raise ValidationError(f"care row for account {item.account_id} has no reason", {"reason": "required"})


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert_audited(
    session: Session, model: type[ModelT], rows: Sequence[Mapping[str, Any]], actor: User | None
) -> list[ModelT]:
    """Insert many records in one flush, each with its audit-log row (records.create_record, in bulk).

    Used where one click creates hundreds or thousands of records (care tasks, campaign members), where a
    flush per record would take seconds on PostgreSQL.
    """
    records = [model(**row) for row in rows]
    session.add_all(records)
    session.flush()
    for record, row in zip(records, rows, strict=True):
        audit(session, actor, "create", record, {k: v for k, v in row.items() if v is not None})
    session.flush()
    return records


def _actor(session: Session, viewer: Viewer) -> User:
    actor = session.get(User, viewer.id)
    if actor is None or actor.deleted_at is not None or not actor.is_active:
        raise ValidationError("your user account no longer exists or is inactive")
    return actor


def _owner_for(session: Session, viewer: Viewer, wanted: int | None) -> int:
    """The row's owner when the viewer may assign to them; else the viewer acts themselves."""
    try:
        owner = assignable_owner(session, viewer, wanted)
    except ValidationError:
        owner = viewer.id
    return owner if owner is not None else viewer.id


def create_care_tasks(
    session: Session,
    viewer: Viewer,
    items: Iterable[CareItem],
    *,
    due_in_days: int = DEFAULT_DUE_DAYS,
    now: dt.datetime | None = None,
) -> CareResult:
    """Create one open care task (activity, purpose ``care``) per row for the row's owner, without duplicates.

    A row whose task already exists (same dedupe key, even if the task was since completed or deleted) is
    skipped, so clicking twice creates nothing the second time; rows on accounts the viewer may not see are
    skipped too. Roles that may not create activities (executives, analysts) get PermissionDeniedError and
    nothing changes. The caller commits.
    """
    require_write(session, viewer, "activities")
    unique: dict[str, CareItem] = {}
    for item in items:
        unique.setdefault(item.dedupe_key, item)
    wanted = list(unique.values())
    _check(wanted)
    result = CareResult()
    if not wanted:
        return result
    actor = _actor(session, viewer)

    accounts: dict[int, tuple[str, int | None]] = {}
    account_ids = sorted({item.account_id for item in wanted})
    for chunk in _chunks(account_ids):
        query = select(Account.id, Account.name, Account.owner_id).where(
            Account.id.in_(chunk), Account.id.in_(visible_ids(viewer, "accounts"))
        )
        for account_id, name, owner_id in session.execute(query):
            accounts[account_id] = (name, owner_id)

    for attempt in range(2):
        existing: set[str] = set()
        for chunk in _chunks([item.dedupe_key for item in wanted]):
            existing.update(
                key for key in session.scalars(select(Activity.dedupe_key).where(Activity.dedupe_key.in_(chunk))) if key
            )
        rows: list[dict[str, Any]] = []
        skipped_existing = skipped_invisible = 0
        due = (now or utcnow()) + dt.timedelta(days=due_in_days)
        owners: dict[int | None, int] = {}
        for item in wanted:
            if item.account_id not in accounts:
                skipped_invisible += 1
                continue
            if item.dedupe_key in existing:
                skipped_existing += 1
                continue
            name, account_owner = accounts[item.account_id]
            wanted_owner = item.owner_id or account_owner
            if wanted_owner not in owners:
                owners[wanted_owner] = _owner_for(session, viewer, wanted_owner)
            action = CARE_ACTIONS.get(item.reason_kind, DEFAULT_ACTION)
            rows.append(
                {
                    "kind": "task",
                    "purpose": "care",
                    "subject": f"{action} {name}"[:200],
                    "description": item.reason.strip(),
                    "status": "open",
                    "owner_id": owners[wanted_owner],
                    "account_id": item.account_id,
                    "due_at": due,
                    "dedupe_key": item.dedupe_key,
                }
            )
        try:
            with session.begin_nested():
                created = insert_audited(session, Activity, rows, actor)
        except IntegrityError:
            # Someone created some of these tasks between our check and our insert (a double click in
            # two browser tabs): look again and insert only what is still missing.
            if attempt == 0:
                continue
            raise
        result.created = [activity.id for activity in created]
        result.already_existed = skipped_existing
        result.not_visible = skipped_invisible
        return result
    return result  # pragma: no cover - the loop always returns or raises


def may_create_care_tasks(viewer: Viewer) -> bool:
    """Whether the viewer's role may create care tasks at all (managers, field staff and admins)."""
    return can_write(viewer, "activities")


def care_tasks_for(session: Session, viewer: Viewer, period: str) -> dict[str, int]:
    """Dedupe key → activity id of the care tasks already created for ``period`` that the viewer may see."""
    prefix = f"care:{period}:"
    query = restrict(select(Activity), viewer, "activities", include_deleted=True).where(
        Activity.dedupe_key.startswith(prefix, autoescape=True)
    )
    return {a.dedupe_key: a.id for a in session.scalars(query) if a.dedupe_key}
