"""Care write-back: care-list rows become the owners' care tasks, once, within the actor's scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import PermissionDeniedError, ValidationError
from crm_app.models import Activity, AuditLog
from crm_app.services.care import CareItem, care_tasks_for, create_care_tasks
from crm_app.services.visibility import viewer_for
from tests import factories

PERIOD = "2026-11-30"


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Activity).where(Activity.purpose == "care")) or 0


def _items(*accounts, kind: str = "value_changing") -> list[CareItem]:  # type: ignore[no-untyped-def]
    return [
        CareItem(a.id, kind, f"Spend fell 45% against the previous 90 days ({a.name})", PERIOD, a.owner_id, a.name)
        for a in accounts
    ]


def test_create_care_tasks_gives_each_owner_an_open_care_task_with_the_reason(session: Session) -> None:
    dept = factories.department(session)
    manager = factories.user(session, role="manager", department_id=dept.id)
    rep = factories.user(session, role="sales_rep", department_id=dept.id)
    customer = factories.account(session, owner_id=rep.id, department_id=dept.id, name="Acme")
    session.commit()

    result = create_care_tasks(session, viewer_for(session, manager), _items(customer))
    session.commit()

    [task] = session.scalars(select(Activity).where(Activity.purpose == "care")).all()
    assert result.created == [task.id]
    assert (task.owner_id, task.account_id, task.status, task.kind) == (rep.id, customer.id, "open", "task")
    assert task.subject == "Encourage Acme"
    assert "Spend fell 45%" in (task.description or "")
    assert task.dedupe_key == f"care:{PERIOD}:{customer.id}:value_changing"
    assert task.due_at is not None
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "activities")).all()
    assert [(a.action, a.entity_id, a.user_id) for a in audit] == [("create", task.id, manager.id)]


def test_clicking_twice_creates_no_duplicate_care_tasks(session: Session) -> None:
    rep = factories.user(session, role="sales_rep")
    customers = [factories.account(session, owner_id=rep.id) for _ in range(3)]
    session.commit()
    viewer = viewer_for(session, rep)

    first = create_care_tasks(session, viewer, _items(*customers[:2]))
    session.commit()
    second = create_care_tasks(session, viewer, _items(*customers))
    session.commit()

    assert len(first.created) == 2
    assert (len(second.created), second.already_existed) == (1, 2)
    assert _count(session) == 3
    assert "1 care task created; 2 already existed" in second.describe()
    assert set(care_tasks_for(session, viewer, PERIOD)) == {i.dedupe_key for i in _items(*customers)}


def test_another_reason_or_period_is_a_new_task(session: Session) -> None:
    rep = factories.user(session, role="sales_rep")
    customer = factories.account(session, owner_id=rep.id)
    session.commit()
    viewer = viewer_for(session, rep)
    create_care_tasks(session, viewer, _items(customer, kind="problem"))
    create_care_tasks(session, viewer, _items(customer, kind="value_changing"))
    later = [CareItem(customer.id, "problem", "Two open complaints", "2026-12-31", rep.id)]
    create_care_tasks(session, viewer, later)
    session.commit()
    assert _count(session) == 3


def test_manager_cannot_create_tasks_on_customers_outside_their_department(session: Session) -> None:
    mine, other = factories.department(session), factories.department(session)
    manager = factories.user(session, role="manager", department_id=mine.id)
    outsider = factories.user(session, role="sales_rep", department_id=other.id)
    inside = factories.account(session, department_id=mine.id, owner_id=manager.id)
    outside = factories.account(session, department_id=other.id, owner_id=outsider.id)
    session.commit()

    result = create_care_tasks(session, viewer_for(session, manager), _items(inside, outside))
    session.commit()

    assert (len(result.created), result.not_visible) == (1, 1)
    assert session.scalars(select(Activity.account_id).where(Activity.purpose == "care")).all() == [inside.id]


def test_rep_gets_the_task_even_when_the_row_names_another_owner(session: Session) -> None:
    rep = factories.user(session, role="sales_rep")
    other = factories.user(session, role="sales_rep")
    customer = factories.account(session, owner_id=rep.id)
    session.commit()
    item = CareItem(customer.id, "value", "Top value tier, buying steadily", PERIOD, other.id)
    create_care_tasks(session, viewer_for(session, rep), [item])
    session.commit()
    assert session.scalar(select(Activity.owner_id).where(Activity.purpose == "care")) == rep.id


@pytest.mark.parametrize("role", ["executive", "marketing_analyst"])
def test_read_only_roles_are_refused_and_nothing_changes(session: Session, role: str) -> None:
    viewer_user = factories.user(session, role=role)
    customer = factories.account(session)
    session.commit()
    with pytest.raises(PermissionDeniedError):
        create_care_tasks(session, viewer_for(session, viewer_user), _items(customer))
    session.rollback()
    assert _count(session) == 0


def test_malformed_care_rows_are_refused_and_nothing_changes(session: Session) -> None:
    rep = factories.user(session, role="sales_rep")
    customer = factories.account(session, owner_id=rep.id)
    session.commit()
    viewer = viewer_for(session, rep)
    good = _items(customer)[0]
    for bad in (
        CareItem(customer.id, "Value; drop table", "x", PERIOD),
        CareItem(customer.id, "value", "x", "not a period!"),
        CareItem(customer.id, "value", "   ", PERIOD),
    ):
        with pytest.raises(ValidationError):
            create_care_tasks(session, viewer, [good, bad])
        session.rollback()
    assert _count(session) == 0
