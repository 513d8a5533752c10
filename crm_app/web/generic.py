"""Web layer: the generic pages (list, detail, new, edit, delete, CSV export) built from a resource declaration."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup, escape
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app.errors import ConflictError, CrmError, PermissionDeniedError, ValidationError
from crm_app.models import AuditLog, User
from crm_app.schemas import field_errors
from crm_app.services import resources as res
from crm_app.services.registry import RESOURCES, resource
from crm_app.services.resources import Column, ListParams, Resource
from crm_app.services.visibility import Viewer, can_read, can_write
from crm_app.web import rendering as r
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.forms import (
    LOOKUP_ENTITIES,
    build_custom_fields,
    build_fields,
    parse_form,
    ref_options_html,
)
from crm_app.web.rendering import flash, humanize, redirect, render


def int_param(value: Any, default: int, low: int = 1, high: int = 100_000) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def list_params(request: Request, resource: Resource) -> tuple[ListParams, dict[str, str]]:
    query = request.query_params
    errors: dict[str, str] = {}
    try:
        filters = res.parse_filters(resource, query)
    except ValidationError as exc:
        filters, errors = {}, exc.errors
    q = (query.get("q") or "").strip()[:100] or None
    sort = query.get("sort") or None
    if sort and sort.lstrip("-") not in resource.sortable_keys():
        sort = None
    return (
        ListParams(
            q=q,
            sort=sort,
            page=int_param(query.get("page"), 1),
            page_size=int_param(query.get("page_size"), res.DEFAULT_PAGE_SIZE, 1, res.MAX_PAGE_SIZE),
            filters=filters,
        ),
        errors,
    )


@dataclass
class Cell:
    text: str
    link: str | None = None
    kind: str = "text"


def cell(column: Column, row: Any, labels: dict[str, dict[int, str]], link_base: str) -> Cell:
    value = getattr(row, column.key, None)
    if column.kind == "ref" and column.ref:
        if value is None:
            return Cell("—")
        name = labels.get(column.ref, {}).get(value)
        if name is None:
            return Cell(f"#{value}")
        return Cell(name, _url_for(column.ref, value), "ref")
    return Cell(_format(column.kind, value), kind=column.kind)


def _format(kind: str, value: Any) -> str:
    if kind == "money":
        return r.money(value)
    if kind == "date":
        return r.date(value)
    if kind == "datetime":
        return r.datetime(value)
    if kind == "month":
        return r.month(value)
    if kind == "percent":
        return r.percent(value)
    if kind == "probability":
        return r.probability(value)
    if kind == "bool":
        return "Yes" if value else "No"
    if kind == "choice":
        return humanize(value) if value else "—"
    if value is None or value == "":
        return "—"
    return str(value)


def _url_for(entity: str, record_id: int) -> str | None:
    if entity in RESOURCES or entity == "accounts":
        return f"/{entity}/{record_id}"
    return None


def link_base(resource: Resource) -> str:
    return "/accounts" if resource.entity == "accounts" else f"/{resource.name}"


def table(
    session: Session, viewer: Viewer, resource: Resource, rows: list[Any], columns: tuple[Column, ...] | None = None
) -> list[tuple[Any, list[Cell]]]:
    columns = columns or resource.columns
    labels = res.labels_for(session, viewer, resource, rows, columns)
    base = link_base(resource)
    return [(row, [cell(c, row, labels, base) for c in columns]) for row in rows]


def row_html(row: Any, cells: list[Cell], base: str) -> Markup:
    """One row of a list page, the first cell linking to the record. Built here rather than cell by cell in
    the template: a page of 25 rows × 9 columns is ~2,000 template steps for what one pass of Python does."""
    if not cells:
        return Markup("<tr></tr>")
    parts = [f'<tr>{_cell_open(cells[0].kind)}<a href="{escape(base)}/{int(row.id)}">{escape(cells[0].text)}</a></td>']
    for c in cells[1:]:
        text = escape(c.text)
        if c.link:
            inner = f'<a href="{escape(c.link)}">{text}</a>'
        elif c.kind == "choice" and c.text != "—":
            inner = f'<span class="badge badge-{escape(c.text.lower().replace(" ", "_"))}">{text}</span>'
        else:
            inner = text
        parts.append(f"{_cell_open(c.kind)}{inner}</td>")
    parts.append("</tr>")
    return Markup("".join(parts))


@functools.cache
def _cell_open(kind: str) -> str:
    """A cell's opening tag by the kind of its column (a few kinds, declared in code: written once each)."""
    return f'<td class="col-{escape(kind)}">'


def filter_widgets(session: Session, viewer: Viewer, resource: Resource, params: ListParams) -> list[dict[str, Any]]:
    widgets = []
    for spec in resource.filters:
        value = params.filters.get(spec.key)
        widget: dict[str, Any] = {"spec": spec, "value": value, "options": []}
        if spec.kind == "choice":
            widget["options"] = [(c, humanize(c)) for c in spec.choices]
        elif spec.kind == "ref" and spec.ref:
            if spec.ref in LOOKUP_ENTITIES:
                if value is None:
                    continue  # reached from a record's page; no free picker for large tables
                label = res.ref_labels(session, viewer, {spec.ref: {value}}).get(spec.ref, {}).get(value)
                widget["options"] = [(str(value), label or f"#{value}")]
            elif can_read(viewer, spec.ref):
                widget["options_html"] = ref_options_html(session, viewer, spec.ref, value)
            else:
                continue
        widgets.append(widget)
    return widgets


def list_view(
    request: Request, session: Session, viewer: Viewer, resource: Resource, template: str = "list.html", **extra: Any
) -> HTMLResponse:
    params, errors = list_params(request, resource)
    # only the shown columns, as plain rows: a list page never needs whole records
    page = res.list_page(session, viewer, resource, params, columns=[c.key for c in resource.columns])
    rows = table(session, viewer, resource, page.items)
    context = {
        "resource": resource,
        "page": page,
        "params": params,
        "rows": rows,
        "row_html": [row_html(row, cells, link_base(resource)) for row, cells in rows],
        "filters": filter_widgets(session, viewer, resource, params),
        "filter_errors": errors,
        "sort": params.sort or resource.default_sort,
        "sortable": set(resource.sortable_keys()),
        "link_base": link_base(resource),
        "creatable": resource.create_schema is not None and can_write(viewer, resource.entity),
        "new_url": f"/{resource.name}/new"
        if resource.entity == resource.name
        else f"/accounts/new?kind={resource.name[:-1]}",
        "export_url": f"/{resource.name}/export.csv",
        **extra,
    }
    return render(request, template, context)


def export_view(request: Request, session: Session, viewer: Viewer, resource: Resource) -> Response:
    params, _ = list_params(request, resource)
    if not can_read(viewer, resource.entity):
        from crm_app.errors import NotFoundError

        raise NotFoundError(f"{resource.title} are not available to you")
    factory = request.app.state.session_factory

    def stream() -> Any:
        # its own session: the request's closes before a streamed body is finished
        own = factory()
        try:
            yield from res.export_csv(own, viewer, resource, params)
        finally:
            own.close()

    filename = f"{resource.name}-{dt.date.today().isoformat()}.csv"
    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ------------------------------------------------------------------------------------------- detail


@dataclass
class DetailField:
    label: str
    text: str
    link: str | None = None
    multiline: bool = False


def detail_fields(session: Session, viewer: Viewer, resource: Resource, record: Any) -> list[DetailField]:
    read = resource.read_schema.model_fields
    names = resource.detail_fields or tuple(
        n for n in read if n not in ("id", "custom", "lines", "created_at", "updated_at", "version")
    )
    columns = {c.key: c for c in resource.columns}
    refs = dict(resource.refs)
    wanted: dict[str, set[int]] = {}
    for name in names:
        if name in refs and getattr(record, name, None) is not None:
            wanted.setdefault(refs[name], set()).add(getattr(record, name))
    labels = res.ref_labels(session, viewer, wanted)
    fields = []
    for name in names:
        value = getattr(record, name, None)
        column = columns.get(name)
        label = column.label if column else humanize(name.removesuffix("_id"))
        if name in refs:
            if value is None:
                fields.append(DetailField(label, "—"))
            else:
                text = labels.get(refs[name], {}).get(value)
                fields.append(DetailField(label, text or f"#{value}", _url_for(refs[name], value) if text else None))
            continue
        kind = column.kind if column else _guess_kind(name, value)
        multiline = isinstance(value, str) and ("\n" in value or len(value) > 120)
        if isinstance(value, list):
            text = ", ".join(f"{v.get('label')} ({v.get('score')})" if isinstance(v, dict) else str(v) for v in value)
            fields.append(DetailField(label, text or "—"))
            continue
        fields.append(DetailField(label, _format(kind, value), multiline=multiline))
    return fields


def _guess_kind(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, Decimal) and any(k in name for k in ("amount", "price", "cost", "budget", "limit", "revenue")):
        return "money"
    if name in ("kind", "status", "role", "channel", "direction", "severity", "lifecycle_stage", "source", "size"):
        return "choice"
    return "text"


def custom_values(session: Session, resource: Resource, record: Any) -> list[tuple[str, str]]:
    if not resource.custom_entity:
        return []
    values = getattr(record, "custom", None) or {}
    shown = []
    for definition in res.custom_definitions(session, resource.custom_entity):
        value = values.get(definition.name)
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        elif value is None or value == "":
            text = "—"
        else:
            text = str(value)
        shown.append((definition.label, text))
    return shown


# built once (a statement built per call costs more than it takes to run)
_HISTORY = (
    select(AuditLog, User.full_name)
    .outerjoin(User, User.id == AuditLog.user_id)
    .where(AuditLog.entity == bindparam("entity"), AuditLog.entity_id == bindparam("record_id"))
    .order_by(AuditLog.id.desc())
    .limit(bindparam("limit", type_=Integer()))
)


def history(session: Session, viewer: Viewer, entity: str, record_id: int, limit: int = 12) -> list[dict[str, Any]]:
    rows = session.execute(_HISTORY, {"entity": entity, "record_id": record_id, "limit": limit}).all()
    entries = []
    for entry, who in rows:
        changes = entry.changes or {}
        fields = [humanize(k.removesuffix("_id")) for k in changes if k not in ("password_hash",)]
        entries.append(
            {"at": entry.at, "who": who or "system", "action": entry.action, "fields": ", ".join(fields[:6])}
        )
    return entries


def children(session: Session, viewer: Viewer, resource: Resource, record: Any) -> list[dict[str, Any]]:
    blocks = []
    for child in resource.children:
        if not can_read(viewer, child.entity):
            continue
        child_resource = RESOURCES.get(child.entity)
        if child_resource is None:
            continue
        rows, total = res.child_rows(session, viewer, child, record.id)
        columns = tuple(c for c in child_resource.columns if c.key != child.fk)
        blocks.append(
            {
                "title": child.title,
                "resource": child_resource,
                "columns": columns,
                "rows": table(session, viewer, child_resource, rows, columns),
                "total": total,
                "more_url": f"/{child_resource.name}?{child.fk}={record.id}"
                if any(f.key == child.fk for f in child_resource.filters)
                else None,
                "new_url": f"/{child_resource.name}/new?{child.fk}={record.id}"
                if child_resource.create_schema is not None and can_write(viewer, child.entity)
                else None,
            }
        )
    return blocks


def detail_context(session: Session, viewer: Viewer, resource: Resource, record: Any) -> dict[str, Any]:
    return {
        "resource": resource,
        "record": record,
        "title": res.display_label(resource.entity, record),
        "fields": detail_fields(session, viewer, resource, record),
        "custom": custom_values(session, resource, record),
        "children": children(session, viewer, resource, record),
        "history": history(session, viewer, resource.model.__tablename__, record.id),
        "editable": resource.update_schema is not None and can_write(viewer, resource.entity),
        "deletable": resource.deletable and hasattr(record, "deleted_at") and can_write(viewer, resource.entity),
        "base": link_base(resource),
    }


def detail_view(
    request: Request,
    session: Session,
    viewer: Viewer,
    resource: Resource,
    record_id: int,
    template: str = "detail.html",
    **extra: Any,
) -> HTMLResponse:
    record = res.get(session, viewer, resource, record_id)
    context = detail_context(session, viewer, resource, record)
    context.update(extra)
    return render(request, template, context)


# -------------------------------------------------------------------------------------------- forms


def form_view(
    request: Request,
    session: Session,
    viewer: Viewer,
    resource: Resource,
    *,
    record: Any = None,
    values: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    editing = record is not None
    errors = errors or {}
    if values is None:
        if editing:
            values = {name: getattr(record, name, None) for name in resource.fields_for_form(editing=True)}
        else:
            names = resource.fields_for_form(editing=False)
            schema = resource.create_schema
            assert schema is not None
            values = {
                n: schema.model_fields[n].default
                for n in names
                if schema.model_fields[n].default is not None and not callable(schema.model_fields[n].default)
            }
            values.update({k: v for k, v in request.query_params.items() if k in names})
    if custom is None:
        custom = dict(getattr(record, "custom", None) or {}) if editing else {}
    context = {
        "resource": resource,
        "record": record,
        "editing": editing,
        "fields": build_fields(session, viewer, resource, editing=editing, values=values, errors=errors),
        "custom_fields": build_custom_fields(session, resource, custom, errors),
        "errors": errors,
        "message": message,
        "conflict": conflict,
        "version": values.get("version") if values.get("version") else getattr(record, "version", None),
        "action": f"/{resource.name}/{record.id}/edit" if editing else f"/{resource.name}/new",
        "cancel": f"{link_base(resource)}/{record.id}" if editing else f"/{resource.name}",
        "title": (
            f"Edit {res.display_label(resource.entity, record)}" if editing else f"New {resource.singular.lower()}"
        ),
    }
    return render(request, "form.html", context, status_code=status_code)


def submit_form(
    request: Request,
    session: Session,
    viewer: Viewer,
    resource: Resource,
    form: FormData,
    record_id: int | None = None,
) -> Response:
    editing = record_id is not None
    if record_id is not None:
        res.get(session, viewer, resource, record_id)  # a record the viewer may not see answers 404 first
    schema = resource.update_schema if editing else resource.create_schema
    if schema is None:
        raise PermissionDeniedError(f"{resource.title.lower()} cannot be changed here")
    values, custom = parse_form(session, viewer, resource, form, editing=editing)
    payload = dict(values)
    if resource.custom_entity:
        payload["custom"] = custom
    if resource.entity != resource.name and not editing:
        payload.setdefault("kind", resource.name[:-1])

    def again(errors: dict[str, str], message: str, status: int, conflict: bool = False) -> HTMLResponse:
        session.rollback()
        current = res.get(session, viewer, resource, record_id) if record_id is not None else None
        return form_view(
            request,
            session,
            viewer,
            resource,
            record=current,
            values=values,
            custom=custom,
            errors=errors,
            message=message,
            conflict=conflict,
            status_code=status,
        )

    try:
        data = schema.model_validate(payload)
        if editing:
            saved = res.update(session, viewer, resource, record_id or 0, data)
        else:
            saved = res.create(session, viewer, resource, data)
        session.commit()
    except PydanticValidationError as exc:
        return again(field_errors(exc), "Please correct the fields marked below.", 422)
    except ValidationError as exc:
        return again(exc.errors, str(exc), 422)
    except ConflictError as exc:
        return again({}, str(exc), 409, conflict=editing)
    verb = "saved" if editing else "created"
    flash(request, f"{resource.singular} {res.display_label(resource.entity, saved)} {verb}.")
    return redirect(f"{link_base(resource)}/{saved.id}")


def delete_record(
    request: Request, session: Session, viewer: Viewer, resource: Resource, record_id: int, form: FormData
) -> Response:
    version = int_param(form.get("version"), 0, 0, 2**31 - 1) or None
    try:
        record = res.delete(session, viewer, resource, record_id, version)
        session.commit()
    except (ConflictError, ValidationError) as exc:
        session.rollback()
        flash(request, str(exc), "error")
        return redirect(f"{link_base(resource)}/{record_id}")
    flash(request, f"{resource.singular} {res.display_label(resource.entity, record)} deleted.")
    return redirect(f"/{resource.name}")


async def read_form(request: Request) -> FormData:
    return await request.form()


# ------------------------------------------------------------------------------------------- routes


def add_resource_routes(router: APIRouter, resource: Resource, skip: set[str] | None = None) -> None:
    """Register list / export / new / detail / edit / delete pages for ``resource`` (except ``skip``)."""
    skip = skip or set()
    name = resource.name
    from fastapi import Depends

    FormDep = Depends(read_form)

    if "list" not in skip:

        def list_page(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
            return list_view(request, session, viewer, resource)

        router.add_api_route(f"/{name}", list_page, methods=["GET"], response_class=HTMLResponse, name=f"{name}_list")

    def export(request: Request, session: SessionDep, viewer: CurrentUser) -> Response:
        return export_view(request, session, viewer, resource)

    router.add_api_route(f"/{name}/export.csv", export, methods=["GET"], name=f"{name}_export")

    if resource.create_schema is not None and "new" not in skip and resource.entity == name:

        def new_page(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
            _require(session, viewer, resource)
            return form_view(request, session, viewer, resource)

        def new_submit(
            request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
        ) -> Response:
            return submit_form(request, session, viewer, resource, form)

        router.add_api_route(f"/{name}/new", new_page, methods=["GET"], response_class=HTMLResponse)
        router.add_api_route(f"/{name}/new", new_submit, methods=["POST"])

    if "detail" not in skip and resource.entity == name:

        def detail_page(request: Request, record_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
            return detail_view(request, session, viewer, resource, record_id)

        router.add_api_route(f"/{name}/{{record_id:int}}", detail_page, methods=["GET"], response_class=HTMLResponse)

    if resource.update_schema is not None and "edit" not in skip and resource.entity == name:

        def edit_page(request: Request, record_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
            record = res.get(session, viewer, resource, record_id)
            from crm_app.services.visibility import require_write

            require_write(session, viewer, resource.entity, record)
            return form_view(request, session, viewer, resource, record=record)

        def edit_submit(
            request: Request, record_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
        ) -> Response:
            return submit_form(request, session, viewer, resource, form, record_id)

        router.add_api_route(f"/{name}/{{record_id:int}}/edit", edit_page, methods=["GET"], response_class=HTMLResponse)
        router.add_api_route(f"/{name}/{{record_id:int}}/edit", edit_submit, methods=["POST"])

    if resource.deletable and resource.entity == name:

        def delete_submit(
            request: Request, record_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
        ) -> Response:
            return delete_record(request, session, viewer, resource, record_id, form)

        router.add_api_route(f"/{name}/{{record_id:int}}/delete", delete_submit, methods=["POST"])


def _require(session: Session, viewer: Viewer, resource: Resource) -> None:
    from crm_app.services.visibility import require_write

    require_write(session, viewer, resource.entity)


def guarded(
    action: Callable[[], Any], request: Request, session: Session, back: str, done: str | None = None
) -> Response:
    """Run a page action: on a rule the user broke, roll back, show the message and go back."""
    try:
        result = action()
        session.commit()
    except (ValidationError, ConflictError, PermissionDeniedError) as exc:
        session.rollback()
        details = "; ".join(f"{humanize(k)}: {v}" for k, v in getattr(exc, "errors", {}).items())
        flash(request, f"{exc}{' — ' + details if details and details not in str(exc) else ''}", "error")
        return redirect(back)
    except CrmError as exc:
        session.rollback()
        flash(request, str(exc), "error")
        return redirect(back)
    if done:
        flash(request, done)
    if isinstance(result, Response):
        return result
    return redirect(back)


__all__ = ["add_resource_routes", "detail_view", "form_view", "guarded", "list_view", "resource"]
