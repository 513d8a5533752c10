"""Web layer: hand-crafted customer pages — My day, the account 360 view, the partner hierarchy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from crm_app.models import Account
from crm_app.services import activities
from crm_app.services.accounts import account_360, my_day
from crm_app.services.registry import resource
from crm_app.services.resources import ref_labels
from crm_app.services.visibility import can_read, can_write, get_visible, restrict
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.generic import custom_values, guarded, history
from crm_app.web.pages.common import FormDep
from crm_app.web.rendering import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def my_day_page(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    day = my_day(session, viewer)
    account_ids = {t.activity.account_id for t in day.tasks if t.activity.account_id}
    account_ids |= {o.account_id for o in day.closing_soon}
    account_ids |= {c.account_id for c in day.open_cases}
    labels = ref_labels(session, viewer, {"accounts": account_ids})["accounts"]
    return render(
        request,
        "my_day.html",
        {"day": day, "labels": labels, "now": dt.datetime.now(dt.UTC).replace(tzinfo=None), "title": "My day"},
    )


@router.post("/activities/{activity_id:int}/done")
def activity_done(
    request: Request, activity_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    activity = get_visible(session, viewer, "activities", activity_id)
    occurrence_raw = form.get("occurrence")
    occurrence = None
    if isinstance(occurrence_raw, str) and occurrence_raw:
        try:
            occurrence = dt.datetime.fromisoformat(occurrence_raw)
        except ValueError:
            occurrence = None
    version = _int(form.get("version"))
    back = str(form.get("back") or f"/activities/{activity_id}")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    return guarded(
        lambda: activities.complete(session, viewer, activity, version, occurrence),
        request,
        session,
        back,
        f"Done: {activity.subject}",
    )


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


@router.get("/accounts/{account_id:int}", response_class=HTMLResponse)
def account_page(request: Request, account_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    view = account_360(session, viewer, account_id)
    account = view.account
    wanted: dict[str, set[int]] = {
        "users": {x for x in [account.owner_id, *(o.owner_id for o in view.opportunities)] if x},
        "accounts": {account.parent_id} if account.parent_id else set(),
        "price_policies": {account.price_policy_id} if account.price_policy_id else set(),
        "departments": {account.department_id} if account.department_id else set(),
        "orders": {p.order_id for p in view.payments} - {r.order.id for r in view.orders},
    }
    labels = ref_labels(session, viewer, wanted)
    labels["orders"].update({r.order.id: r.order.number for r in view.orders})
    return render(
        request,
        "account_360.html",
        {
            "v": view,
            "a": account,
            "labels": labels,
            "custom": custom_values(session, resource("accounts"), account),
            "history": history(session, viewer, "accounts", account.id, 8),
            "editable": can_write(viewer, "accounts"),
            "title": account.name,
        },
    )


@router.get("/partners/hierarchy", response_class=HTMLResponse)
def partner_hierarchy(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    if not can_read(viewer, "accounts"):
        from crm_app.errors import NotFoundError

        raise NotFoundError("partners are not available to you")
    partners = session.scalars(
        restrict(select(Account).where(Account.kind == "partner"), viewer, "accounts")
        .order_by(Account.name)
        .limit(2000)
    ).all()
    by_parent: dict[int | None, list[Account]] = {}
    ids = {p.id for p in partners}
    for partner in partners:
        parent = partner.parent_id if partner.parent_id in ids else None
        by_parent.setdefault(parent, []).append(partner)
    return render(request, "partner_tree.html", {"by_parent": by_parent, "title": "Partner hierarchy"})
