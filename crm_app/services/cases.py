"""Business rules for service cases: numbering and the complaint workflow (satisfaction captured at closing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from crm_app.errors import ConflictError, ValidationError
from crm_app.models import Case, utcnow
from crm_app.services import records
from crm_app.services.visibility import Viewer, require_write

# action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"open"}), "in_progress"),
    "resolve": (frozenset({"open", "in_progress"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), "in_progress"),
}
ACTION_LABELS = {"start": "Start work", "resolve": "Resolve", "close": "Close", "reopen": "Reopen"}


def open_case(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> Case:
    values = {
        **values,
        "number": records.next_number(session, Case, "CS"),
        "status": "open",
        "opened_at": utcnow(),
    }
    return records.create_record(session, Case, values, viewer.user)


def available_actions(case: Case) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if case.status in sources]


def transition(
    session: Session,
    viewer: Viewer,
    case: Case,
    action: str,
    expected_version: int | None,
    *,
    resolution: str | None = None,
    satisfaction: int | None = None,
) -> Case:
    """Move ``case`` one step along its workflow; resolving needs a resolution, closing a satisfaction 1–5."""
    require_write(session, viewer, "cases", case)
    if action not in TRANSITIONS:
        raise ValidationError(f"unknown action {action!r}", {"action": "unknown"})
    records.check_version(case, expected_version)
    sources, target = TRANSITIONS[action]
    if case.status not in sources:
        raise ConflictError(f"case {case.number} is {case.status.replace('_', ' ')}; it cannot be {action}ed now")
    now = utcnow()
    values: dict[str, Any] = {"status": target}
    if action == "resolve":
        if not resolution or not resolution.strip():
            raise ValidationError("say how the case was resolved", {"resolution": "required to resolve"})
        values.update(resolution=resolution.strip(), resolved_at=max(now, case.opened_at))
    elif action == "close":
        if satisfaction is None or not 1 <= satisfaction <= 5:
            raise ValidationError(
                "record the customer's satisfaction (1–5) when closing", {"satisfaction": "choose 1 to 5"}
            )
        values.update(satisfaction=satisfaction, closed_at=now)
    elif action == "reopen":
        values.update(resolved_at=None, closed_at=None, satisfaction=None)
    return records.update_record(session, case, values, viewer.user, expected_version)
