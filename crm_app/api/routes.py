"""JSON API (/api/v1): a thin shell over the same services, visibility and schemas as the pages."""

# No ``from __future__ import annotations`` here: routes are built in closures whose parameter types are
# per-resource pydantic models, and FastAPI must see those objects, not their names.

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, create_model

from crm_app import schemas as s
from crm_app.schemas.base import MAX_INT, choice
from crm_app.services import activities, campaigns, cases, communications
from crm_app.services import resources as res
from crm_app.services.registry import RESOURCES, resource
from crm_app.services.resources import LABELS, ListParams, Resource
from crm_app.services.sales_actions import change_stage, convert, make_return
from crm_app.services.visibility import get_visible
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.lanes import run_slow

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "your role may not do this (or the CSRF token is missing)"},
    404: {"description": "no such record, or one you may not see"},
    409: {"description": "changed by someone else (stale version) or a duplicate"},
    422: {"description": "the input is not valid; `errors` names each field"},
}
READ_ERRORS = {k: v for k, v in ERRORS.items() if k in (401, 404, 422)}
RecordId = Annotated[int, Path(ge=1, le=MAX_INT)]


class Problem(BaseModel):
    detail: str
    errors: dict[str, str] = {}


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _params_model(spec: Resource) -> type[BaseModel]:
    sortable = spec.sortable_keys()
    fields: dict[str, Any] = {
        "q": (str | None, Field(default=None, max_length=100, description="search text")),
        "sort": (
            choice([*sortable, *(f"-{k}" for k in sortable)]) | None if sortable else None,
            Field(default=None, description="a column; prefix - for descending"),
        ),
        "page": (int, Field(default=1, ge=1, le=100_000)),
        "page_size": (int, Field(default=res.DEFAULT_PAGE_SIZE, ge=1, le=res.MAX_PAGE_SIZE)),
    }
    for flt in spec.filters:
        if flt.kind == "choice":
            fields[flt.key] = (choice(flt.choices) | None, None)
        elif flt.kind == "ref":
            fields[flt.key] = (int | None, Field(default=None, ge=1, le=MAX_INT))
        elif flt.kind == "text":
            fields[flt.key] = (str | None, Field(default=None, max_length=80))
        else:
            fields[flt.key] = (bool | None, None)
    return create_model(f"{_camel(spec.name)}ListParams", **fields)


def _list_params(spec: Resource, params: BaseModel) -> ListParams:
    data = params.model_dump()
    filters = {f.key: data[f.key] for f in spec.filters if data.get(f.key) is not None}
    if any(isinstance(v, str) and "\x00" in v for v in [data.get("q"), *filters.values()]):
        from crm_app.errors import ValidationError

        raise ValidationError("search text cannot contain NUL characters", {"q": "not valid text"})
    return ListParams(
        q=data.get("q"), sort=data.get("sort"), page=data["page"], page_size=data["page_size"], filters=filters
    )


def add_resource_api(spec: Resource) -> None:
    name = spec.name
    read = spec.read_schema
    params_model = _params_model(spec)
    items_type: Any = list[read]  # type: ignore[valid-type]
    list_model = create_model(
        f"{_camel(name)}Page", items=(items_type, ...), total=(int, ...), page=(int, ...), page_size=(int, ...)
    )
    tag = spec.title

    def list_items(
        params: Annotated[params_model, Query()],  # type: ignore[valid-type]
        session: SessionDep,
        viewer: CurrentUser,
    ) -> Any:
        page = res.list_page(session, viewer, spec, _list_params(spec, params))
        return {
            "items": [read.model_validate(row) for row in page.items],
            "total": page.total,
            "page": page.page,
            "page_size": page.page_size,
        }

    router.add_api_route(
        f"/{name}",
        list_items,
        methods=["GET"],
        response_model=list_model,
        tags=[tag],
        summary=f"List {spec.title.lower()} you may see",
        responses=READ_ERRORS,
        operation_id=f"list_{name}",
    )

    def export(
        request: Request,
        params: Annotated[params_model, Query()],  # type: ignore[valid-type]
        session: SessionDep,
        viewer: CurrentUser,
    ) -> Response:
        list_params = _list_params(spec, params)
        if not res.rule(spec.entity).can_read(viewer.role):
            from crm_app.errors import NotFoundError

            raise NotFoundError(f"{spec.title} are not available to you")
        factory = request.app.state.session_factory

        def stream() -> Any:
            own = factory()
            try:
                yield from res.export_csv(own, viewer, spec, list_params)
            finally:
                own.close()

        return StreamingResponse(
            stream(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{dt.date.today().isoformat()}.csv"'},
        )

    router.add_api_route(
        f"/{name}/export.csv",
        export,
        methods=["GET"],
        tags=[tag],
        summary=f"Every {spec.singular.lower()} you may see, as CSV",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **READ_ERRORS},
        operation_id=f"export_{name}",
    )

    def get_item(record_id: RecordId, session: SessionDep, viewer: CurrentUser) -> Any:
        return read.model_validate(res.get(session, viewer, spec, record_id))

    router.add_api_route(
        f"/{name}/{{record_id}}",
        get_item,
        methods=["GET"],
        response_model=read,
        tags=[tag],
        summary=f"One {spec.singular.lower()}",
        responses=READ_ERRORS,
        operation_id=f"get_{name}",
    )

    if spec.create_schema is not None:
        create_schema = spec.create_schema

        def create_item(body: create_schema, session: SessionDep, viewer: CurrentUser) -> Any:  # type: ignore[valid-type]
            record = res.create(session, viewer, spec, body)
            session.commit()
            return read.model_validate(record)

        router.add_api_route(
            f"/{name}",
            create_item,
            methods=["POST"],
            status_code=201,
            response_model=read,
            tags=[tag],
            summary=f"Create a {spec.singular.lower()}",
            responses=ERRORS,
            operation_id=f"create_{name}",
        )

    if spec.update_schema is not None:
        update_schema = spec.update_schema

        def update_item(
            record_id: RecordId,
            body: update_schema,  # type: ignore[valid-type]
            session: SessionDep,
            viewer: CurrentUser,
        ) -> Any:
            record = res.update(session, viewer, spec, record_id, body)
            session.commit()
            return read.model_validate(record)

        router.add_api_route(
            f"/{name}/{{record_id}}",
            update_item,
            methods=["PATCH"],
            response_model=read,
            tags=[tag],
            summary=f"Change a {spec.singular.lower()} (send the version you edited)",
            responses=ERRORS,
            operation_id=f"update_{name}",
        )

    if spec.deletable:

        def delete_item(
            record_id: RecordId,
            session: SessionDep,
            viewer: CurrentUser,
            version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
        ) -> Response:
            res.delete(session, viewer, spec, record_id, version)
            session.commit()
            return Response(status_code=204)

        router.add_api_route(
            f"/{name}/{{record_id}}",
            delete_item,
            methods=["DELETE"],
            status_code=204,
            response_class=Response,
            tags=[tag],
            summary=f"Delete a {spec.singular.lower()} (it stays in the history)",
            responses=ERRORS,
            operation_id=f"delete_{name}",
        )


# ------------------------------------------------------------------------------------ actions


class LookupItem(BaseModel):
    id: int
    label: str


LookupEntity = choice(sorted(LABELS))


@router.get(
    "/lookup/{entity}",
    response_model=list[LookupItem],
    tags=["Lookup"],
    summary="Records whose name contains q (for pickers)",
    responses=READ_ERRORS,
)
def lookup(
    entity: Annotated[LookupEntity, Path()],  # type: ignore[valid-type]
    session: SessionDep,
    viewer: CurrentUser,
    q: Annotated[str, Query(max_length=100, pattern=r"^[^\x00]*$")] = "",
) -> Any:
    if not res.rule(entity).can_read(viewer.role):
        return []
    return res.lookup(session, viewer, entity, q)


@router.post(
    "/opportunities/{record_id}/stage",
    response_model=s.OpportunityRead,
    tags=["Opportunities"],
    summary="Move a deal to another stage (history is written; losing needs a reason)",
    responses=ERRORS,
)
def move_stage(record_id: RecordId, body: s.StageChange, session: SessionDep, viewer: CurrentUser) -> Any:
    opportunity = get_visible(session, viewer, "opportunities", record_id)
    change_stage(session, viewer, opportunity, body)
    session.commit()
    return s.OpportunityRead.model_validate(opportunity)


@router.post(
    "/quotes/{record_id}/convert",
    response_model=s.OrderRead,
    status_code=201,
    tags=["Quotes"],
    summary="Turn a quote into an order",
    responses=ERRORS,
)
def convert_quote(record_id: RecordId, body: s.QuoteConvert, session: SessionDep, viewer: CurrentUser) -> Any:
    quote = get_visible(session, viewer, "quotes", record_id)
    order = convert(session, viewer, quote, body)
    session.commit()
    return s.OrderRead.model_validate(order)


@router.post(
    "/orders/{record_id}/returns",
    response_model=s.OrderRead,
    status_code=201,
    tags=["Orders"],
    summary="Return some of a sale's lines (a return order at the prices paid)",
    responses=ERRORS,
)
def create_return(record_id: RecordId, body: s.ReturnCreate, session: SessionDep, viewer: CurrentUser) -> Any:
    order = get_visible(session, viewer, "orders", record_id)
    ret = make_return(session, viewer, order, body)
    session.commit()
    return s.OrderRead.model_validate(ret)


@router.post(
    "/cases/{record_id}/transition",
    response_model=s.CaseRead,
    tags=["Cases"],
    summary="Start, resolve (needs a resolution), close (needs satisfaction 1–5) or reopen a case",
    responses=ERRORS,
)
def case_transition(record_id: RecordId, body: s.CaseTransition, session: SessionDep, viewer: CurrentUser) -> Any:
    record = get_visible(session, viewer, "cases", record_id)
    cases.transition(
        session,
        viewer,
        record,
        body.action,
        body.version,
        resolution=body.resolution,
        satisfaction=body.satisfaction,
    )
    session.commit()
    return s.CaseRead.model_validate(record)


class CompleteIn(s.Schema):
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    occurrence: s.base.Timestamp | None = Field(  # type: ignore[name-defined]
        default=None, description="for a repeating task: the due time of the occurrence done"
    )


@router.post(
    "/activities/{record_id}/complete",
    response_model=s.ActivityRead,
    tags=["Activities & tasks"],
    summary="Mark a task done (one occurrence of a repeating task)",
    responses=ERRORS,
)
def complete_activity(record_id: RecordId, body: CompleteIn, session: SessionDep, viewer: CurrentUser) -> Any:
    record = get_visible(session, viewer, "activities", record_id)
    done = activities.complete(session, viewer, record, body.version, body.occurrence)
    session.commit()
    return s.ActivityRead.model_validate(done)


class MembersIn(s.Schema):
    account_ids: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(min_length=1, max_length=1000)


class MembersOut(BaseModel):
    added: int


@router.post(
    "/campaigns/{record_id}/members",
    response_model=MembersOut,
    tags=["Campaigns"],
    summary="Target accounts with a campaign",
    responses=ERRORS,
)
def add_members(record_id: RecordId, body: MembersIn, session: SessionDep, viewer: CurrentUser) -> Any:
    campaign = get_visible(session, viewer, "campaigns", record_id)
    added = campaigns.add_members(session, viewer, campaign, body.account_ids)
    session.commit()
    return MembersOut(added=added)


class BatchOut(BaseModel):
    sent: int
    queued: int
    failed: int
    skipped: int
    errors: list[str]


@router.post(
    "/communications/batch-send",
    response_model=BatchOut,
    tags=["Contact centre"],
    summary="Send a template to a campaign's members (e-mail by SMTP; other channels logged)",
    responses=ERRORS,
)
async def batch_send(request: Request, body: s.BatchSend, session: SessionDep, viewer: CurrentUser) -> Any:
    settings = request.app.state.settings
    smtp = communications.SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_sender)

    def send() -> BatchOut:
        result = communications.batch_send(
            session, viewer, body.template_id, body.campaign_id, smtp, only_status=body.only_status
        )
        session.commit()
        return BatchOut(**result.__dict__)

    return await run_slow(request, send)  # seconds of SMTP: not on the process's request thread


for _name, _spec in RESOURCES.items():
    if _spec.entity == _name:  # views such as partners are pages only; the API filters accounts by kind
        add_resource_api(_spec)

__all__ = ["Problem", "resource", "router"]
