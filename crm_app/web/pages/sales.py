"""Web layer: hand-crafted sales pages — pipeline board, stage changes, quotes → orders, payments, ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app import schemas as s
from crm_app.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import (
    LOST_REASONS,
    Account,
    Competitor,
    DocumentTemplate,
    Opportunity,
    Order,
    PipelineStage,
    Quote,
)
from crm_app.models.derived import opportunity_board_totals
from crm_app.models.sales import ORDER_CHANNELS, ORDER_STATUSES, PAYMENT_METHODS
from crm_app.services import ledger, opportunities, orders
from crm_app.services import resources as res
from crm_app.services.accounts import paid_by_order
from crm_app.services.products import template_lines
from crm_app.services.registry import resource
from crm_app.services.sales_actions import change_stage, convert, make_return
from crm_app.services.visibility import (
    Viewer,
    among,
    can_read,
    can_write,
    get_visible,
    live_shared_account_ids,
    require_write,
    restrict,
    scope_clause,
    scope_on,
    sees_broadly,
)
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.forms import ref_options, ref_options_html
from crm_app.web.generic import detail_context, guarded, int_param
from crm_app.web.pages.common import FormDep, blank_lines, form_dict, line_rows, product_options, validate
from crm_app.web.rendering import date, flash, money, redirect, render

router = APIRouter()
BOARD_CARDS = 20  # newest cards per column; the column header still counts and sums every deal


# --------------------------------------------------------------------------------------------- board


BOARD_CARD_COLUMNS = (
    Opportunity.id,
    Opportunity.name,
    Opportunity.account_id,
    Opportunity.amount,
    Opportunity.expected_close_date,
    Opportunity.version,
    Opportunity.stage_id,
)


@router.get("/opportunities/board", response_class=HTMLResponse)
def board(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    if not can_read_opps(viewer):
        raise NotFoundError("opportunities are not available to you")
    mine = request.query_params.get("mine") in ("true", "1", "on")
    owner_id = int_param(request.query_params.get("owner_id"), 0, 0, 2**31 - 1) or None
    stages = [st for st in opportunities.stages(session)]
    recent = dt.date.today() - dt.timedelta(days=30)
    owner = viewer.id if mine else owner_id
    everyone = scope_clause(viewer, "opportunities") is None
    if everyone:
        totals, cards = _board_everyone(session, viewer, stages, recent, owner)
    else:
        totals, cards = _board_scoped(session, viewer, stages, recent, owner)
    account_ids = {card.account_id for stage_cards in cards.values() for card in stage_cards}
    if everyone:  # the cards carry their account's name (see _everyone_statements)
        labels = {card.account_id: card.account_name for rows in cards.values() for card in rows if card.account_name}
    else:
        labels = res.ref_labels(session, viewer, {"accounts": account_ids})["accounts"]
    movable = can_write(viewer, "opportunities")
    columns = [
        BoardColumn(
            stage=stage,
            stage_id=stage.id,
            count=totals.get(stage.id, (0, Decimal(0)))[0],
            amount=totals.get(stage.id, (0, Decimal(0)))[1],
            shown=len(cards.get(stage.id, [])),
            cards_html=_cards_html(cards.get(stage.id, []), stage.id, labels, movable),
        )
        for stage in stages
    ]
    field_role = viewer.role in ("sales_rep", "service_agent")
    owners = "" if field_role else ref_options_html(session, viewer, "users", owner_id)
    return render(
        request,
        "board.html",
        {
            "columns": columns,
            "labels": labels,
            "stages": stages,
            "mine": mine,
            "owner_id": owner_id,
            "owners": owners,
            "movable": movable,
            "title": "Pipeline board",
        },
    )


BoardTotals = dict[int, tuple[int, Decimal]]
BoardCards = dict[int, list[Any]]


@dataclass(frozen=True, slots=True)
class BoardColumn:
    stage: PipelineStage
    stage_id: int
    count: int
    amount: Decimal
    shown: int  # cards on the board (the newest; the header counts them all)
    cards_html: Markup


def _cards_html(cards: list[Any], stage_id: int, labels: dict[int, str], movable: bool) -> Markup:
    """A column's cards: the bulk of the page (up to 7 × 20 cards), built in one pass here rather than in ~20
    template steps per card. Cards move by drag and drop; without JavaScript a card's link opens the deal,
    whose page has the "move to another stage" form (a form on every card doubled the page's size)."""
    if not cards:
        return Markup("")
    return Markup(
        "".join(
            _card_html(
                card.id,
                card.version,
                card.name,
                labels.get(card.account_id, ""),
                card.amount,
                card.expected_close_date,
                stage_id,
                movable,
            )
            for card in cards
        )
    )


@lru_cache(maxsize=8192)
def _card_html(
    deal_id: int, version: int, name: str, label: str, amount: Any, close: Any, stage_id: int, movable: bool
) -> str:
    """One card, kept once written: a card is a function of what it shows (and the deal's version, which any
    change to the deal moves on), and the boards of a team show the same newest cards request after request.
    Amounts and dates are digits and ASCII words: nothing to escape."""
    drag = 'draggable="true"' if movable else ""
    return (
        f'\n    <div class="deal" {drag} data-stage="{stage_id}" data-id="{deal_id}" data-version="{version}">'
        f'\n      <a class="deal-name" href="/opportunities/{deal_id}">{escape(name)}</a>'
        f'\n      <div class="deal-meta"><span>{escape(label)}</span></div>'
        f'\n      <div class="deal-meta"><span class="deal-amount">{money(amount)}</span>'
        f"<span>{date(close) if close else ''}</span></div>\n    </div>\n    "
    )


def _on_board(stage_id: int, closed: bool, recent: Any) -> ColumnElement[bool]:
    """The deals a column shows: every live deal of an open stage; of a closed one, those closed recently."""
    # the stage written into the statement (statements are kept per pipeline): a plan made for any value (a
    # manager's) then still reads each stage along its own index range
    stage = among(Opportunity.stage_id, [stage_id])
    return and_(stage, Opportunity.closed_date >= recent) if closed else stage


def _board_everyone(
    session: Session, viewer: Viewer, stages: list[PipelineStage], recent: dt.date, owner: int | None
) -> tuple[BoardTotals, BoardCards]:
    """For viewers who see every deal: the columns' counts and amounts from the totals the database keeps
    (:func:`_totals_parts`; one person's deals, when the board shows one, from the board index), the newest
    cards of each column by their own index range — one statement each."""
    if not stages:
        return {}, {}
    shape = tuple((st.id, st.is_closed) for st in stages)
    sums, newest = _everyone_statements(viewer.role, shape, owner is not None)
    params: dict[str, Any] = {"recent": recent, "owner": owner} if owner else {"recent": recent}
    totals = _totals(session.execute(sums, params))
    cards: BoardCards = {}
    if totals:
        for row in session.execute(newest, params).all():
            cards.setdefault(row.stage_id, []).append(row)
    return totals, cards


@lru_cache(maxsize=64)
def _everyone_statements(role: str, shape: tuple[tuple[int, bool], ...], by_owner: bool) -> tuple[Any, Any]:
    """The board's two statements for a role that sees every deal, built once per pipeline shape (the date
    and owner are parameters): building them costs more than running them."""
    # for such a role the visibility rule adds only "live rows": it depends on the role, not on who asks
    viewer = Viewer(id=0, role=role, department_id=None)
    assert scope_clause(viewer, "opportunities") is None and scope_clause(viewer, "accounts") is None, role
    # the name of a live account, as the board's labels show it (such a role sees every account)
    account_name = (
        select(Account.name)
        .where(Account.id == Opportunity.account_id, Account.deleted_at.is_(None))
        .scalar_subquery()
        .label("account_name")
    )

    def scoped(query: Any) -> Any:
        query = restrict(query, viewer, "opportunities")
        return query.where(Opportunity.owner_id == bindparam("owner", type_=Integer())) if by_owner else query

    sums = union_all(*(_index_sums(shape, scoped) if by_owner else _totals_parts(shape, None)))
    return sums, _newest_cards(shape, (*BOARD_CARD_COLUMNS, account_name), scoped)


def _index_sums(shape: tuple[tuple[int, bool], ...], scoped: Callable[[Any], Any]) -> list[Any]:
    """Each column's count and amount in cents (as the kept totals give them, :func:`_totals`) of the deals
    ``scoped`` keeps, summed from the board index: the selects of the open stages and of the closed ones within
    the recent range, for a UNION ALL."""
    open_ids = [stage_id for stage_id, closed in shape if not closed]
    closed_ids = [stage_id for stage_id, closed in shape if closed]
    cents = func.coalesce(func.sum(func.round(Opportunity.amount * 100)), 0)
    sums = select(Opportunity.stage_id, func.count(), cents).group_by(Opportunity.stage_id)
    recent = bindparam("recent", type_=Date())
    parts = []
    if open_ids:
        parts.append(scoped(sums.where(among(Opportunity.stage_id, open_ids))))
    if closed_ids:
        parts.append(scoped(sums.where(among(Opportunity.stage_id, closed_ids), Opportunity.closed_date >= recent)))
    return parts


def _newest_cards(shape: tuple[tuple[int, bool], ...], columns: tuple[Any, ...], scoped: Callable[[Any], Any]) -> Any:
    """The newest cards of each column among the deals ``scoped`` keeps: each column's ids read newest first along
    the index on ``(stage_id, id)`` (migration 0010) until it has its cards, then only those deals read.

    On PostgreSQL that index carries every column the scope and the closing date are checked on, so a column's
    ids come from the index alone: a closed column, whose newest deals are mostly not closed recently, checks
    thousands of entries there instead of reading as many deals (a manager's board: 2.1 -> 0.9 ms). The number
    of cards is written into the statement, so that a plan made for any value knows each column gives 20 ids."""
    recent = bindparam("recent", type_=Date())
    cards_per_column = literal_column(str(BOARD_CARDS), Integer())
    newest = [
        scoped(select(Opportunity.id).where(_on_board(stage_id, closed, recent)))
        .order_by(Opportunity.id.desc())
        .limit(cards_per_column)
        .subquery()
        for stage_id, closed in shape
    ]
    # each column's LIMIT inside its own subquery (SQLite refuses LIMIT on a bare UNION member)
    ids = union_all(*(select(sub.c.id) for sub in newest)).subquery("newest")
    return select(*columns).join(ids, Opportunity.id == ids.c.id).order_by(Opportunity.stage_id, Opportunity.id.desc())


def _totals_parts(shape: tuple[tuple[int, bool], ...], tree: tuple[int, ...] | None) -> list[Any]:
    """Each column's count and amount in cents, from the totals the database keeps per stage, closing day and the
    four departments a deal is seen through (``opportunity_board_totals``, migration 0010): every live deal for a
    viewer who sees them all (``tree`` None), else those whose departments meet ``tree`` (a manager's). Open
    stages, then closed ones since the recent date: each a range of the table's key, a select for a UNION ALL."""
    totals = opportunity_board_totals.c
    open_ids = [stage_id for stage_id, closed in shape if not closed]
    closed_ids = [stage_id for stage_id, closed in shape if closed]
    sums = select(totals.stage_id, func.sum(totals.deals), func.sum(totals.cents)).group_by(totals.stage_id)
    if tree is not None:
        sums = sums.where(
            or_(
                among(totals.owner_department_id, tree),
                among(totals.department_id, tree),
                among(totals.account_owner_department_id, tree),
                among(totals.account_department_id, tree),
            )
        )
    parts = []
    if open_ids:
        parts.append(sums.where(among(totals.stage_id, open_ids)))
    if closed_ids:
        recent = bindparam("recent", type_=Date())
        parts.append(sums.where(among(totals.stage_id, closed_ids), totals.closed_on >= recent))
    return parts


def _totals(rows: Any) -> BoardTotals:
    """Rows of (stage, deals, cents) as the columns' counts and amounts (stages may come more than once)."""
    totals: BoardTotals = {}
    for stage_id, deals, cents in rows:
        count, amount = totals.get(stage_id, (0, Decimal(0)))
        totals[stage_id] = (count + int(deals), amount + Decimal(int(cents)).scaleb(-2))
    return {stage_id: total for stage_id, total in totals.items() if total[0]}


def _board_scoped(
    session: Session, viewer: Viewer, stages: list[PipelineStage], recent: dt.date, owner: int | None
) -> tuple[BoardTotals, BoardCards]:
    """For viewers limited to their scope. A rep's few hundred deals: one pass over them gives every column's
    count, amount and newest cards (:func:`_scoped_statement`). A manager's department tree, thousands of deals:
    the counts and amounts from the totals the database keeps (:func:`_department_statements`), the newest cards
    of each column read newest first and checked one by one."""
    if not stages:
        return {}, {}
    shape = tuple((st.id, st.is_closed) for st in stages)
    person = (viewer.id, viewer.role, viewer.department_id, viewer.department_tree)
    params: dict[str, Any] = {"recent": recent, "owner": owner} if owner else {"recent": recent}
    if sees_broadly(viewer) and owner is None:
        sums, newest = _department_statements(person, shape)
        totals = _totals(session.execute(sums, params))
        cards: BoardCards = {}
        if totals:
            for card in session.execute(newest, params).all():
                cards.setdefault(card.stage_id, []).append(card)
        return totals, cards
    totals = {}
    cards = {}
    for row in session.execute(_scoped_statement(person, shape, owner is not None), params).all():
        totals[row.stage_id] = (int(row.stage_count), Decimal(row.stage_amount or 0))
        cards.setdefault(row.stage_id, []).append(row)
    return totals, cards


@lru_cache(maxsize=256)
def _department_statements(
    person: tuple[int, str, int | None, tuple[int, ...]], shape: tuple[tuple[int, bool], ...]
) -> tuple[Any, Any]:
    """The board's two statements for a viewer who sees a department tree (:func:`sees_broadly`), built once per
    person and pipeline shape.

    Such a viewer sees a deal through any of four departments in their tree — its owner's, its own, its account
    owner's, its account's — or through its account shared with them (crm_app.services.visibility). The sums:
    the kept totals of the deals seen through a department (:func:`_totals_parts`), and those of the deals
    seen only through a share, read from the deals (a person's shares are few). The cards: each column's deals
    newest first, checked against the viewer's scope (:func:`scope_on`) until the column has its cards."""
    viewer = Viewer(id=person[0], role=person[1], department_id=person[2], department_tree=person[3])
    assert viewer.department_tree, person
    live = Opportunity.deleted_at.is_(None)
    scope = _checked_scope(viewer)
    # for a manager, what they see through their departments alone is what the kept totals answer (they are among
    # their department's people); NULL where a department is unknown: such a deal is not seen through it
    through_departments = func.coalesce(_checked_scope(viewer, shares=False), false())
    only_shared = and_(live, Opportunity.account_id.in_(live_shared_account_ids(viewer)), not_(through_departments))
    sums = union_all(
        *_totals_parts(shape, viewer.department_tree), *_index_sums(shape, lambda query: query.where(only_shared))
    )
    return sums, _newest_cards(shape, BOARD_CARD_COLUMNS, lambda query: query.where(live, scope))


@lru_cache(maxsize=256)
def _scoped_statement(
    person: tuple[int, str, int | None, tuple[int, ...]], shape: tuple[tuple[int, bool], ...], by_owner: bool
) -> Any:
    """The scoped board's statement for a viewer whose deals on it are a few hundred — a rep's, or the deals of the
    one person a manager's board shows — built once per person and pipeline shape (the date and owner are
    parameters): building it costs more than running it. Gives every column's count and amount and its newest
    cards, in one pass over those deals."""
    viewer = Viewer(id=person[0], role=person[1], department_id=person[2], department_tree=person[3])
    stage = Opportunity.stage_id
    recent = bindparam("recent", type_=Date())
    ranked = select(
        *BOARD_CARD_COLUMNS,
        func.count().over(partition_by=stage).label("stage_count"),
        func.sum(Opportunity.amount).over(partition_by=stage).label("stage_amount"),
        func.row_number().over(partition_by=stage, order_by=Opportunity.id.desc()).label("position"),
    ).where(or_(*(_on_board(stage_id, closed, recent) for stage_id, closed in shape)))
    if by_owner:
        ranked = ranked.where(Opportunity.owner_id == bindparam("owner", type_=Integer()))
    if by_owner and sees_broadly(viewer):
        # the person's deals along their owner's index, each checked against the department's sets, rather than
        # gathering the thousands of deals the department sees first
        ranked = ranked.where(Opportunity.deleted_at.is_(None), _checked_scope(viewer))
    else:
        ranked = restrict(ranked, viewer, "opportunities")
    inner = ranked.subquery()
    return select(inner).where(inner.c.position <= BOARD_CARDS).order_by(inner.c.stage_id, inner.c.position)


def _checked_scope(viewer: Viewer, *, shares: bool = True) -> ColumnElement[bool]:
    scope = scope_on(viewer, "opportunities", Opportunity, shares=shares)
    assert scope is not None, viewer
    return scope


def can_read_opps(viewer: Viewer) -> bool:
    return can_read(viewer, "opportunities")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/opportunities/{opportunity_id:int}/stage", response_model=None)
def move_stage(
    request: Request, opportunity_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    """Move a deal (board drag-and-drop sends JSON-accepting requests; the no-JS form a normal POST)."""
    opportunity = get_visible(session, viewer, "opportunities", opportunity_id)
    back = str(form.get("back") or "")
    back = back if back.startswith("/") and not back.startswith("//") else "/opportunities/board"
    try:
        change = validate(
            s.StageChange, form_dict(form, "stage_id", "version", "lost_reason", "competitor_id", "lost_note")
        )
        target = session.get(PipelineStage, change.stage_id)
        if target is None:
            raise ValidationError("unknown stage", {"stage_id": "unknown stage"})
        change_stage(session, viewer, opportunity, change)
        session.commit()
    except (ValidationError, ConflictError, PermissionDeniedError) as exc:
        session.rollback()
        status = 409 if isinstance(exc, ConflictError) else 403 if isinstance(exc, PermissionDeniedError) else 422
        if _wants_json(request):
            return JSONResponse({"detail": str(exc), "errors": getattr(exc, "errors", {})}, status_code=status)
        if isinstance(exc, ValidationError) and target_is_lost(session, form):
            flash(request, str(exc), "error")
            return redirect(f"/opportunities/{opportunity_id}/lose?stage_id={form.get('stage_id')}")
        flash(request, str(exc), "error")
        return redirect(back)
    stage_name = session.get(PipelineStage, opportunity.stage_id)
    message = f"{opportunity.name} moved to {stage_name.name if stage_name else 'the new stage'}."
    if _wants_json(request):
        return JSONResponse({"id": opportunity.id, "stage_id": opportunity.stage_id, "version": opportunity.version})
    flash(request, message)
    return redirect(back)


def target_is_lost(session: Session, form: FormData) -> bool:
    stage_id = int_param(form.get("stage_id"), 0, 0, 2**31 - 1)
    stage = session.get(PipelineStage, stage_id) if stage_id else None
    return bool(stage and stage.is_closed and not stage.is_won)


@router.get("/opportunities/{opportunity_id:int}/lose", response_class=HTMLResponse)
def lose_page(request: Request, opportunity_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    opportunity = get_visible(session, viewer, "opportunities", opportunity_id)
    require_write(session, viewer, "opportunities", opportunity)
    lost = opportunities.lost_stage(session)
    competitors = session.scalars(select(Competitor).where(Competitor.deleted_at.is_(None)).order_by(Competitor.name))
    return render(
        request,
        "lose.html",
        {
            "o": opportunity,
            "stage": lost,
            "reasons": LOST_REASONS,
            "competitors": list(competitors),
            "title": f"Lose {opportunity.name}",
        },
    )


@router.get("/opportunities/{opportunity_id:int}", response_class=HTMLResponse)
def opportunity_page(request: Request, opportunity_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("opportunities")
    record = res.get(session, viewer, spec, opportunity_id)
    context = detail_context(session, viewer, spec, record)
    stages = {st.id: st for st in session.scalars(select(PipelineStage))}
    from crm_app.models import OpportunityStageHistory, Survey

    history_rows = session.scalars(
        select(OpportunityStageHistory)
        .where(OpportunityStageHistory.opportunity_id == record.id)
        .order_by(OpportunityStageHistory.changed_at, OpportunityStageHistory.id)
    ).all()
    quotes = session.scalars(
        restrict(select(Quote).where(Quote.opportunity_id == record.id), viewer, "quotes").order_by(Quote.id.desc())
    ).all()
    evaluations = session.scalars(
        select(Survey).where(Survey.kind == "opportunity_evaluation", Survey.is_active, Survey.deleted_at.is_(None))
    ).all()
    context.update(
        stages=stages,
        stage_list=opportunities.stages(session),
        stage_history=history_rows,
        quotes=quotes,
        evaluations=evaluations,
        reasons=LOST_REASONS,
        competitors=session.scalars(
            select(Competitor).where(Competitor.deleted_at.is_(None)).order_by(Competitor.name)
        ).all(),
        movable=can_write(viewer, "opportunities"),
    )
    return render(request, "opportunity_detail.html", context)


# -------------------------------------------------------------------------------------------- quotes


def _doc_header_options(session: Session, viewer: Viewer, account_id: int | None) -> dict[str, Any]:
    from crm_app.models import Contact

    contacts: list[Any] = []
    deals: list[Any] = []
    account_label = None
    if account_id:
        contacts = list(
            session.scalars(
                restrict(select(Contact).where(Contact.account_id == account_id), viewer, "contacts").limit(200)
            )
        )
        deals = list(
            session.scalars(
                restrict(
                    select(Opportunity).where(Opportunity.account_id == account_id), viewer, "opportunities"
                ).limit(200)
            )
        )
        account_label = res.ref_labels(session, viewer, {"accounts": {account_id}})["accounts"].get(account_id)
    return {
        "contacts": contacts,
        "deals": deals,
        "account_label": account_label,
        "policies": ref_options(session, viewer, "price_policies"),
        "products": product_options(session),
        "templates": session.scalars(
            select(DocumentTemplate).where(DocumentTemplate.deleted_at.is_(None)).order_by(DocumentTemplate.name)
        ).all(),
    }


def document_form(
    request: Request,
    session: Session,
    viewer: Viewer,
    kind: str,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    *,
    record: Any = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    account_id = int_param(values.get("account_id"), 0, 0, 2**31 - 1) or None
    context = _doc_header_options(session, viewer, account_id)
    context.update(
        kind=kind,
        values=values,
        lines=blank_lines(lines),
        record=record,
        errors=errors or {},
        message=message,
        channels=ORDER_CHANNELS,
        statuses=ORDER_STATUSES,
        title=(f"Edit {record.number}" if record is not None else f"New {kind}"),
    )
    return render(request, "document_form.html", context, status_code=status_code)


def _template_prefill(session: Session, template_id: Any) -> list[dict[str, Any]]:
    number = int_param(template_id, 0, 0, 2**31 - 1)
    template = session.get(DocumentTemplate, number) if number else None
    if template is None or template.deleted_at is not None:
        return []
    return [
        {"product_id": line.product_id, "quantity": line.quantity, "discount_pct": line.discount_pct or ""}
        for line in template_lines(template)
    ]


@router.get("/quotes/new", response_class=HTMLResponse)
def new_quote(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    require_write(session, viewer, "quotes")
    values = dict(request.query_params)
    if values.get("opportunity_id") and not values.get("account_id"):
        deal = session.get(Opportunity, int_param(values["opportunity_id"], 0, 0, 2**31 - 1))
        if deal is not None:
            values["account_id"] = str(deal.account_id)
    return document_form(
        request, session, viewer, "quote", values, _template_prefill(session, values.get("template_id"))
    )


@router.post("/quotes/new", response_model=None)
def create_quote(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    values = form_dict(form, "account_id", "contact_id", "opportunity_id", "price_policy_id", "valid_until", "notes")
    lines = line_rows(form)
    return _save_document(request, session, viewer, "quotes", values, lines)


def _save_document(
    request: Request,
    session: Session,
    viewer: Viewer,
    entity: str,
    values: dict[str, Any],
    lines: list[dict[str, Any]],
    record: Any = None,
    version: Any = None,
) -> Response:
    spec = resource(entity)
    kind = spec.singular.lower()
    try:
        if record is None:
            data = validate(spec.create_schema, {**values, "lines": lines})  # type: ignore[arg-type]
            saved = res.create(session, viewer, spec, data)
        else:
            data = validate(spec.update_schema, {**values, "lines": lines, "version": version})  # type: ignore[arg-type]
            saved = res.update(session, viewer, spec, record.id, data)
        session.commit()
    except (ValidationError, ConflictError) as exc:
        session.rollback()
        status = 409 if isinstance(exc, ConflictError) else 422
        return document_form(
            request,
            session,
            viewer,
            kind,
            values,
            lines,
            record=record,
            errors=getattr(exc, "errors", {}),
            message=str(exc),
            status_code=status,
        )
    flash(request, f"{spec.singular} {saved.number} saved.")
    return redirect(f"/{entity}/{saved.id}")


@router.get("/quotes/{quote_id:int}", response_class=HTMLResponse)
def quote_page(request: Request, quote_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("quotes")
    quote = res.get(session, viewer, spec, quote_id)
    context = detail_context(session, viewer, spec, quote)
    context.update(
        lines=quote.lines,
        product_names=_product_names(session, [line.product_id for line in quote.lines]),
        channels=ORDER_CHANNELS,
        can_convert=can_write(viewer, "orders")
        and can_write(viewer, "quotes")
        and quote.status
        not in (
            "converted",
            "rejected",
            "expired",
        ),
    )
    return render(request, "quote_detail.html", context)


def _product_names(session: Session, ids: list[int | None]) -> dict[int, str]:
    from crm_app.models import Product

    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {p.id: p.name for p in session.scalars(select(Product).where(Product.id.in_(wanted)))}


@router.get("/quotes/{quote_id:int}/edit", response_class=HTMLResponse)
def edit_quote(request: Request, quote_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    quote = get_visible(session, viewer, "quotes", quote_id)
    require_write(session, viewer, "quotes", quote)
    values = {
        "account_id": quote.account_id,
        "contact_id": quote.contact_id,
        "opportunity_id": quote.opportunity_id,
        "status": quote.status,
        "valid_until": quote.valid_until,
        "notes": quote.notes,
    }
    lines = [
        {
            "product_id": line.product_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_pct": line.discount_pct,
            "description": line.description,
        }
        for line in quote.lines
    ]
    return document_form(request, session, viewer, "quote", values, lines, record=quote)


@router.post("/quotes/{quote_id:int}/edit", response_model=None)
def save_quote(
    request: Request, quote_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    quote = get_visible(session, viewer, "quotes", quote_id)
    values = form_dict(form, "contact_id", "opportunity_id", "status", "valid_until", "notes")
    for key in ("contact_id", "opportunity_id", "valid_until", "notes"):
        values.setdefault(key, None)
    return _save_document(request, session, viewer, "quotes", values, line_rows(form), quote, form.get("version"))


@router.post("/quotes/{quote_id:int}/convert", response_model=None)
def convert_quote(
    request: Request, quote_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    quote = get_visible(session, viewer, "quotes", quote_id)

    def act() -> Response:
        order = convert(
            session, viewer, quote, validate(s.QuoteConvert, form_dict(form, "version", "order_date", "channel"))
        )
        session.flush()
        flash(request, f"Quote {quote.number} became order {order.number}.")
        return redirect(f"/orders/{order.id}")

    return guarded(act, request, session, f"/quotes/{quote_id}")


# -------------------------------------------------------------------------------------------- orders


@router.get("/orders/new", response_class=HTMLResponse)
def new_order(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    require_write(session, viewer, "orders")
    values = dict(request.query_params)
    return document_form(
        request, session, viewer, "order", values, _template_prefill(session, values.get("template_id"))
    )


@router.post("/orders/new", response_model=None)
def create_order(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    values = form_dict(form, "account_id", "contact_id", "opportunity_id", "channel", "status", "order_date", "notes")
    return _save_document(request, session, viewer, "orders", values, line_rows(form))


@router.get("/orders/{order_id:int}", response_class=HTMLResponse)
def order_page(request: Request, order_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("orders")
    order = res.get(session, viewer, spec, order_id)
    from crm_app.models import Payment, PaymentPlan, User

    context = detail_context(session, viewer, spec, order)
    paid = paid_by_order(session, [order.id]).get(order.id, Decimal("0"))
    plans = session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.order_id == order.id, PaymentPlan.deleted_at.is_(None))
        .order_by(PaymentPlan.due_date)
    ).all()
    payments = session.scalars(
        select(Payment).where(Payment.order_id == order.id, Payment.deleted_at.is_(None)).order_by(Payment.paid_on)
    ).all()
    returns = session.scalars(
        restrict(select(Order).where(Order.return_of_id == order.id), viewer, "orders").order_by(Order.id)
    ).all()
    returned = orders.returned_quantities(session, order) if order.kind == "sale" else {}
    salesperson = session.get(User, order.owner_id) if order.owner_id else None
    context.update(
        lines=order.lines,
        product_names=_product_names(session, [line.product_id for line in order.lines]),
        paid=paid,
        outstanding=(order.total_amount - paid) if order.status != "cancelled" else Decimal("0"),
        planned=sum((p.amount for p in plans), Decimal("0")),
        plans=plans,
        payments=payments,
        returns=returns,
        returned=returned,
        salesperson=salesperson,
        methods=PAYMENT_METHODS,
        statuses=ORDER_STATUSES,
        writable=can_write(viewer, "orders"),
    )
    return render(request, "order_detail.html", context)


@router.post("/orders/{order_id:int}/payments", response_model=None)
def add_payment(
    request: Request, order_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    get_visible(session, viewer, "orders", order_id)
    payload = {**form_dict(form, "amount", "paid_on", "method", "reference", "payment_plan_id"), "order_id": order_id}

    def act() -> Any:
        data = validate(s.PaymentCreate, payload)
        return res.create(session, viewer, resource("payments"), data)

    return guarded(act, request, session, f"/orders/{order_id}", "Payment recorded.")


@router.post("/orders/{order_id:int}/plans", response_model=None)
def add_plan(
    request: Request, order_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    get_visible(session, viewer, "orders", order_id)
    payload = {**form_dict(form, "amount", "due_date", "notes"), "order_id": order_id}

    def act() -> Any:
        data = validate(s.PaymentPlanCreate, payload)
        return res.create(session, viewer, resource("payment_plans"), data)

    return guarded(act, request, session, f"/orders/{order_id}", "Instalment added to the payment plan.")


@router.post("/orders/{order_id:int}/returns", response_model=None)
def add_return(
    request: Request, order_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    order = get_visible(session, viewer, "orders", order_id)
    quantities = []
    for line in order.lines:
        raw = form.get(f"return-{line.id}")
        if isinstance(raw, str) and raw.strip():
            quantities.append({"line_id": line.id, "quantity": raw.strip()})

    def act() -> Response:
        data = validate(s.ReturnCreate, {"lines": quantities, **form_dict(form, "notes")})
        ret = make_return(session, viewer, order, data)
        session.flush()
        flash(request, f"Return {ret.number} created.")
        return redirect(f"/orders/{ret.id}")

    return guarded(act, request, session, f"/orders/{order_id}")


@router.post("/orders/{order_id:int}/status", response_model=None)
def order_status(
    request: Request, order_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    def act() -> Any:
        data = validate(s.OrderUpdate, form_dict(form, "status", "version"))
        return res.update(session, viewer, resource("orders"), order_id, data)

    get_visible(session, viewer, "orders", order_id)
    return guarded(act, request, session, f"/orders/{order_id}", "Order status changed.")


@router.post("/quotes/{quote_id:int}/status", response_model=None)
def quote_status(
    request: Request, quote_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    def act() -> Any:
        data = validate(s.QuoteUpdate, form_dict(form, "status", "version"))
        return res.update(session, viewer, resource("quotes"), quote_id, data)

    get_visible(session, viewer, "quotes", quote_id)
    return guarded(act, request, session, f"/quotes/{quote_id}", "Quote status changed.")


# -------------------------------------------------------------------------------------------- ledger


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    from crm_app.services.visibility import can_read

    if not can_read(viewer, "orders"):
        raise NotFoundError("the order ledger is not available to you")
    query = request.query_params
    outstanding_only = query.get("outstanding") in ("true", "1", "on")
    owner_id = int_param(query.get("owner_id"), 0, 0, 2**31 - 1) or None
    q = (query.get("q") or "").strip()[:100] or None
    sort = query.get("sort") or "-order_date"
    if sort.lstrip("-") not in ledger.SORTS:
        sort = "-order_date"
    page = int_param(query.get("page"), 1)
    rows, total, sums = ledger.ledger_page(
        session, viewer, page=page, page_size=50, sort=sort, outstanding_only=outstanding_only, owner_id=owner_id, q=q
    )
    return render(
        request,
        "ledger.html",
        {
            "rows": rows,
            "total": total,
            "sums": sums,
            "page": res.Page([], total, page, 50),
            "outstanding_only": outstanding_only,
            "owner_id": owner_id,
            "q": q,
            "sort": sort,
            "owners": ref_options(session, viewer, "users") if viewer.role not in ("sales_rep",) else [],
            "title": "Order ledger",
        },
    )
