"""Web layer: hand-crafted catalogue and purchasing pages — quote templates, purchase orders, plan vs actual."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import Account, PurchaseOrder, SalesPlan
from crm_app.models.purchasing import PURCHASE_STATUSES
from crm_app.services import purchasing
from crm_app.services import resources as res
from crm_app.services.plans import plan_actual
from crm_app.services.registry import resource
from crm_app.services.visibility import Viewer, can_read, can_write, get_visible, require_write, restrict
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.generic import detail_context, guarded
from crm_app.web.pages.common import FormDep, blank_lines, form_dict, line_rows, product_options, validate
from crm_app.web.rendering import flash, redirect, render

router = APIRouter()

TEMPLATE_LINE_KEYS = ("product_id", "quantity", "discount_pct")
PURCHASE_LINE_KEYS = ("product_id", "quantity", "unit_cost")


def _lines(form: FormData, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [row for row in line_rows(form, keys) if row.get("product_id")]


def _product_names(session: Session, ids: list[int | None]) -> dict[int, str]:
    return {k: v for k, v in res.ref_labels_plain(session, "products", {i for i in ids if i}).items()}


# ------------------------------------------------------------------------------------- quote templates


def _template_form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    record: Any = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "template_form.html",
        {
            "values": values,
            "lines": blank_lines(lines),
            "record": record,
            "errors": errors or {},
            "message": message,
            "products": product_options(session),
            "title": f"Edit {record.name}" if record else "New quote template",
        },
        status_code=status_code,
    )


@router.get("/document_templates/new", response_class=HTMLResponse)
def new_template(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    require_write(session, viewer, "document_templates")
    return _template_form(request, session, {"document": "quote"}, [])


@router.get("/document_templates/{template_id:int}/edit", response_class=HTMLResponse)
def edit_template(request: Request, template_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    record = get_visible(session, viewer, "document_templates", template_id)
    require_write(session, viewer, "document_templates", record)
    lines = [
        {"product_id": line.product_id, "quantity": line.quantity, "discount_pct": line.discount_pct}
        for line in record.lines
    ]
    values = {"name": record.name, "document": record.document, "notes": record.notes}
    return _template_form(request, session, values, lines, record)


def _save(
    request: Request,
    session: Session,
    viewer: Viewer,
    entity: str,
    payload: dict[str, Any],
    record: Any,
    on_error: Any,
) -> Response:
    spec = resource(entity)
    try:
        if record is None:
            saved = res.create(session, viewer, spec, validate(spec.create_schema, payload))  # type: ignore[arg-type]
        else:
            saved = res.update(session, viewer, spec, record.id, validate(spec.update_schema, payload))  # type: ignore[arg-type]
        session.commit()
    except (ValidationError, ConflictError, PermissionDeniedError) as exc:
        session.rollback()
        return on_error(getattr(exc, "errors", {}), str(exc), 409 if isinstance(exc, ConflictError) else 422)
    flash(request, f"{spec.singular} {res.display_label(entity, saved)} saved.")
    return redirect(f"/{entity}/{saved.id}")


@router.post("/document_templates/new", response_model=None)
def create_template(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    values = form_dict(form, "name", "document", "notes")
    lines = _lines(form, TEMPLATE_LINE_KEYS)
    return _save(
        request,
        session,
        viewer,
        "document_templates",
        {**values, "lines": lines},
        None,
        lambda e, m, st: _template_form(request, session, values, lines, None, e, m, st),
    )


@router.post("/document_templates/{template_id:int}/edit", response_model=None)
def save_template(
    request: Request, template_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    record = get_visible(session, viewer, "document_templates", template_id)
    values = form_dict(form, "name", "document", "notes")
    values.setdefault("notes", None)
    lines = _lines(form, TEMPLATE_LINE_KEYS)
    return _save(
        request,
        session,
        viewer,
        "document_templates",
        {**values, "lines": lines, "version": form.get("version")},
        record,
        lambda e, m, st: _template_form(request, session, values, lines, record, e, m, st),
    )


@router.get("/document_templates/{template_id:int}", response_class=HTMLResponse)
def template_page(request: Request, template_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("document_templates")
    record = res.get(session, viewer, spec, template_id)
    context = detail_context(session, viewer, spec, record)
    context.update(
        lines=record.lines, product_names=_product_names(session, [line.product_id for line in record.lines])
    )
    return render(request, "template_detail.html", context)


# ------------------------------------------------------------------------------------ purchase orders


def _suppliers(session: Session, viewer: Viewer) -> list[tuple[int, str]]:
    rows = session.execute(
        restrict(select(Account.id, Account.name).where(Account.kind == "supplier"), viewer, "accounts")
        .order_by(Account.name)
        .limit(500)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _purchase_form(
    request: Request,
    session: Session,
    viewer: Viewer,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "purchase_form.html",
        {
            "values": values,
            "lines": blank_lines(lines),
            "errors": errors or {},
            "message": message,
            "products": product_options(session),
            "suppliers": _suppliers(session, viewer),
            "statuses": PURCHASE_STATUSES,
            "title": "New purchase order",
        },
        status_code=status_code,
    )


@router.get("/purchase_orders/new", response_class=HTMLResponse)
def new_purchase(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    require_write(session, viewer, "purchase_orders")
    return _purchase_form(request, session, viewer, dict(request.query_params), [])


@router.post("/purchase_orders/new", response_model=None)
def create_purchase(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    values = form_dict(form, "supplier_id", "status", "order_date", "expected_date", "notes")
    lines = _lines(form, PURCHASE_LINE_KEYS)
    return _save(
        request,
        session,
        viewer,
        "purchase_orders",
        {**values, "lines": lines},
        None,
        lambda e, m, st: _purchase_form(request, session, viewer, values, lines, e, m, st),
    )


@router.get("/purchase_orders/{order_id:int}", response_class=HTMLResponse)
def purchase_page(request: Request, order_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("purchase_orders")
    record = res.get(session, viewer, spec, order_id)
    context = detail_context(session, viewer, spec, record)
    returns = session.scalars(
        restrict(select(PurchaseOrder).where(PurchaseOrder.return_of_id == record.id), viewer, "purchase_orders")
    ).all()
    context.update(
        lines=record.lines,
        product_names=_product_names(session, [line.product_id for line in record.lines]),
        returns=returns,
        writable=can_write(viewer, "purchase_orders"),
    )
    return render(request, "purchase_detail.html", context)


@router.post("/purchase_orders/{order_id:int}/returns", response_model=None)
def purchase_return(
    request: Request, order_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    from decimal import Decimal, InvalidOperation

    record = get_visible(session, viewer, "purchase_orders", order_id)

    def act() -> Response:
        require_write(session, viewer, "purchase_orders", record)
        quantities: dict[int, Decimal] = {}
        for line in record.lines:
            raw = form.get(f"return-{line.id}")
            if isinstance(raw, str) and raw.strip():
                try:
                    quantities[line.id] = Decimal(raw.strip())
                except InvalidOperation:
                    raise ValidationError(
                        f"line {line.position}: quantity must be a number", {f"lines.{line.id}": "not a number"}
                    ) from None
        ret = purchasing.create_purchase_return(
            session, viewer, record, quantities, str(form.get("notes") or "") or None
        )
        session.flush()
        flash(request, f"Return {ret.number} to the supplier created.")
        return redirect(f"/purchase_orders/{ret.id}")

    return guarded(act, request, session, f"/purchase_orders/{order_id}")


# ---------------------------------------------------------------------------------------- sales plans


@router.get("/sales_plans/report", response_class=HTMLResponse)
def plan_report(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    if not can_read(viewer, "sales_plans"):
        raise NotFoundError("sales plans are not available to you")
    raw_month = request.query_params.get("month") or dt.date.today().strftime("%Y-%m")
    try:
        month = dt.date.fromisoformat(f"{raw_month[:7]}-01")
    except ValueError:
        month = dt.date.today().replace(day=1)
    plans = session.scalars(
        restrict(select(SalesPlan).where(SalesPlan.period_month == month), viewer, "sales_plans").order_by(SalesPlan.id)
    ).all()
    rows = [plan_actual(session, plan) for plan in plans]
    wanted = {
        "departments": {p.department_id for p in plans if p.department_id},
        "users": {p.user_id for p in plans if p.user_id},
        "product_categories": {p.category_id for p in plans if p.category_id},
    }
    labels = res.ref_labels(session, viewer, wanted)
    return render(
        request,
        "plan_report.html",
        {"rows": rows, "labels": labels, "month": month, "title": "Plan vs actual"},
    )
