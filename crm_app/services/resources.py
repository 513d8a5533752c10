"""Business rules for plain entities: one declaration drives list / filter / sort / page / detail / create /
update / delete / CSV export for pages and API alike, always through visibility and the audited record service."""

from __future__ import annotations

import csv
import datetime as dt
import io
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache, reduce
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    asc,
    bindparam,
    desc,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from crm_app.db import AmongIds, is_sqlite
from crm_app.errors import NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import (
    Account,
    Activity,
    Campaign,
    Case,
    Communication,
    Competitor,
    CompetitorProduct,
    Contact,
    CustomFieldDefinition,
    Department,
    DocumentTemplate,
    Opportunity,
    Order,
    PipelineStage,
    PricePolicy,
    Product,
    ProductCategory,
    PurchaseOrder,
    Quote,
    SoftDeleteMixin,
    Survey,
    SurveyQuestion,
    Template,
    User,
)
from crm_app.services import records
from crm_app.services.visibility import (
    Viewer,
    assignable_owner,
    get_visible,
    is_visible,
    require_write,
    restrict,
    rule,
    scope_selects,
)

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 25


# ------------------------------------------------------------------------------------------ labels

LABELS: dict[str, Callable[[], Any]] = {
    "accounts": lambda: Account.name,
    "contacts": lambda: Contact.first_name + " " + Contact.last_name,
    "opportunities": lambda: Opportunity.name,
    "quotes": lambda: Quote.number,
    "orders": lambda: Order.number,
    "purchase_orders": lambda: PurchaseOrder.number,
    "cases": lambda: Case.number,
    "campaigns": lambda: Campaign.name,
    "users": lambda: User.full_name,
    "departments": lambda: Department.name,
    "products": lambda: Product.name,
    "product_categories": lambda: ProductCategory.name,
    "price_policies": lambda: PricePolicy.name,
    "competitors": lambda: Competitor.name,
    "competitor_products": lambda: CompetitorProduct.name,
    "templates": lambda: Template.name,
    "surveys": lambda: Survey.name,
    "survey_questions": lambda: SurveyQuestion.text,
    "document_templates": lambda: DocumentTemplate.name,
    "pipeline_stages": lambda: PipelineStage.name,
    "activities": lambda: Activity.subject,
    "custom_fields": lambda: CustomFieldDefinition.label,
    "communications": lambda: func.coalesce(Communication.subject, Communication.channel),
}


def display_label(entity: str, record: Any) -> str:
    """How a record is named to a person (the same as :data:`LABELS`, on a loaded object)."""
    if entity == "contacts":
        return f"{record.first_name} {record.last_name}".strip()
    for attr in ("name", "number", "full_name", "subject", "label", "text"):
        value = getattr(record, attr, None)
        if value:
            return str(value)
    return f"#{record.id}"


def ref_labels(session: Session, viewer: Viewer, wanted: Mapping[str, set[int]]) -> dict[str, dict[int, str]]:
    """Names of referenced records the viewer may see: one select per entity, all sent as one statement."""
    found: dict[str, dict[int, str]] = {entity: {} for entity in wanted}
    params: dict[str, list[int]] = {}
    for entity, ids in wanted.items():
        ids = {i for i in ids if i is not None}
        if ids and entity in LABELS:
            params[f"{entity}_ids"] = sorted(ids)
    if params:
        entities = tuple(key.removesuffix("_ids") for key in params)
        statement = _labels_statement(entities, viewer.role, viewer.id, viewer.department_tree)
        rows: Any = session.execute(statement, params).all()
        for kind, record_id, name in rows:
            found[kind][record_id] = str(name)
    return found


@lru_cache(maxsize=4096)
def _labels_statement(entities: tuple[str, ...], role: str, user_id: int, department_tree: tuple[int, ...]) -> Any:
    """The names of the records of ``entities`` by id (the parameters ``<entity>_ids``) that the person may see,
    each row checked on its own (``one_row``; nothing but "live" for an entity the role reads whole), built once
    per person and set of entities: building a statement and its cache key costs more than running it."""
    viewer = Viewer(id=user_id, role=role, department_id=None, department_tree=department_tree)
    parts = []
    for entity in entities:
        model: Any = rule(entity).model
        label = sql_cast(LABELS[entity](), String)
        by_key = select(literal(entity), model.id, label).where(AmongIds(model.id, f"{entity}_ids"))
        parts.append(restrict(by_key, viewer, entity, one_row=True))
    return parts[0] if len(parts) == 1 else union_all(*parts)


def ref_labels_plain(session: Session, entity: str, ids: set[int]) -> dict[int, str]:
    """Names of reference data every role reads (products, categories): no visibility filter needed."""
    if not ids:
        return {}
    model: Any = rule(entity).model
    return {row[0]: str(row[1]) for row in session.execute(select(model.id, LABELS[entity]()).where(model.id.in_(ids)))}


def lookup(session: Session, viewer: Viewer, entity: str, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Records of ``entity`` whose name contains ``q``, for pickers on forms."""
    if entity not in LABELS:
        raise NotFoundError(f"no lookup for {entity}")
    model: Any = rule(entity).model
    label = LABELS[entity]()
    query = restrict(select(model.id, label), viewer, entity)
    q = q.strip()
    if q.isdigit() and int(q) < 2**31:
        query = query.where(or_(model.id == int(q), label.ilike(f"%{q}%")))
    elif q:
        query = query.where(label.ilike(f"%{_escape_like(q)}%", escape="\\"))
    query = query.order_by(label).limit(limit)
    return [{"id": row[0], "label": str(row[1])} for row in session.execute(query)]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ------------------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Column:
    """A column of a list: ``kind`` says how to show it (text, money, date, datetime, bool, ref, percent)."""

    key: str
    label: str
    kind: str = "text"
    ref: str | None = None
    sortable: bool = True


@dataclass(frozen=True)
class FilterSpec:
    """A list filter: ``choice`` (one of ``choices``), ``ref`` (an id of ``ref``), ``bool``, or ``mine``."""

    key: str
    label: str
    kind: str = "choice"
    choices: tuple[str, ...] = ()
    ref: str | None = None


@dataclass(frozen=True)
class Child:
    """Records of another entity shown on a detail page (``fk`` points back at this record)."""

    entity: str
    fk: str
    title: str


Hook = Callable[..., Any]


@dataclass
class Resource:
    name: str
    title: str
    singular: str
    read_schema: type[BaseModel]
    columns: tuple[Column, ...]
    create_schema: type[BaseModel] | None = None
    update_schema: type[BaseModel] | None = None
    search: tuple[str, ...] = ()
    # indexed columns searched first by "starts with" (an index range); the slower "contains" search over
    # ``search`` runs only when that finds nothing
    prefix_search: tuple[str, ...] = ()
    filters: tuple[FilterSpec, ...] = ()
    default_sort: str = "-id"
    refs: Mapping[str, str] = field(default_factory=dict)
    form_fields: tuple[str, ...] | None = None
    custom_entity: str | None = None
    deletable: bool = True
    section: str = "Sales"
    owner_field: str | None = None
    create_hook: Hook | None = None
    update_hook: Hook | None = None
    children: tuple[Child, ...] = ()
    base_filter: Callable[[], ColumnElement[bool]] | None = None
    detail_fields: tuple[str, ...] | None = None
    nav: bool = True
    entity: str = ""  # the visibility entity (defaults to ``name``; differs for views such as partners)

    def __post_init__(self) -> None:
        if not self.entity:
            self.entity = self.name

    @property
    def model(self) -> Any:
        return rule(self.entity).model

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def sortable_keys(self) -> list[str]:
        names = records.column_names(self.model)
        return [c.key for c in self.columns if c.sortable and c.key in names]

    def fields_for_form(self, *, editing: bool) -> list[str]:
        schema = self.update_schema if editing else self.create_schema
        if schema is None:
            return []
        names = [n for n in schema.model_fields if n not in ("version", "custom", "lines")]
        if self.form_fields is not None:
            names = [n for n in self.form_fields if n in names]
        return names


@dataclass
class ListParams:
    q: str | None = None
    sort: str | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    filters: dict[str, Any] = field(default_factory=dict)
    prefix: bool = False  # search by "starts with" on the resource's indexed columns


@cache
def lowered_index_columns(table: Table) -> frozenset[str]:
    """Columns of ``table`` with an index on ``lower(column)`` (declared in the models, e.g. account names)."""
    found = set()
    for index in table.indexes:
        leading = index.expressions[0] if index.expressions else None
        if isinstance(leading, FunctionElement) and leading.name.lower() == "lower":
            arguments = list(leading.clauses)
            if len(arguments) == 1 and isinstance(arguments[0], ColumnClause):
                found.add(arguments[0].name)
    return frozenset(found)


def _range(column: Any, name: str, values: Mapping[str, Any]) -> ColumnElement[bool]:
    """``column`` starts with a word: the range of bound parameters ``<name>_from`` and ``<name>_to``."""
    return and_(
        column >= bindparam(f"{name}_from", values[f"{name}_from"]),
        column < bindparam(f"{name}_to", values[f"{name}_to"]),
    )


def _bounds(name: str, start: str) -> dict[str, str]:
    return {f"{name}_from": start, f"{name}_to": start[:-1] + chr(ord(start[-1]) + 1)}


def _lowered(model: Any, columns: tuple[str, ...], q: str) -> frozenset[str]:
    """Which of ``columns`` a search for ``q`` matches on their lowered index (ASCII only, where the databases'
    ``lower`` and Python's agree)."""
    return lowered_index_columns(model.__table__) & frozenset(columns) if q.isascii() else frozenset()


def prefix_variants(q: str) -> list[str]:
    """The ways a plain (not lowered) column may spell a word starting with ``q``, without repeats."""
    return sorted({q, q.lower(), q.upper(), q.capitalize(), q.title()})


def prefix_values(model: Any, columns: tuple[str, ...], q: str) -> dict[str, str]:
    """The bounds of a "starts with ``q``" search by the names of their bound parameters (see
    :func:`prefix_conditions`): ``q_lower_from``/``_to`` for the lowered columns, ``q_<i>_from``/``_to`` for the
    i-th spelling on the plain ones."""
    lowered = _lowered(model, columns, q)
    values = _bounds("q_lower", q.lower()) if lowered else {}
    if any(name not in lowered for name in columns):
        for i, variant in enumerate(prefix_variants(q)):
            values.update(_bounds(f"q_{i}", variant))
    return values


def prefix_conditions(model: Any, columns: tuple[str, ...], q: str) -> list[ColumnElement[bool]]:
    """Rows where one of ``columns`` starts with ``q``, as alternatives that are each index ranges.

    A column with an index on ``lower(column)`` matches whatever the case (one range on that index) and is an
    alternative of its own. The other columns match ``q`` as typed, in lower, upper or capitalised case (one
    range per spelling on their plain index) and together make one alternative. The bounds are bound parameters
    (:func:`prefix_values`), so that a statement built once serves every word whose bounds have the same names.
    """
    lowered = _lowered(model, columns, q)
    values = prefix_values(model, columns, q)
    conditions = [_range(func.lower(getattr(model, name)), "q_lower", values) for name in columns if name in lowered]
    plain = [
        _range(getattr(model, name), f"q_{i}", values)
        for name in columns
        if name not in lowered
        for i in range(len(prefix_variants(q)))
    ]
    if plain:
        conditions.append(or_(*plain))
    return conditions


def disjoint(conditions: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """The same alternatives, each leaving out the rows an earlier one matches (so counts add up)."""
    return [
        and_(condition, *(not_(func.coalesce(earlier, false())) for earlier in conditions[:position]))
        for position, condition in enumerate(conditions)
    ]


def prefix_clause(model: Any, columns: tuple[str, ...], q: str, *, sqlite: bool = False) -> ColumnElement[bool]:
    """Rows where one of ``columns`` starts with ``q`` (see :func:`prefix_conditions`), as one condition.

    PostgreSQL ORs the alternatives' index ranges (bitmaps); SQLite does not combine expression indexes
    for an OR (it would read every row), so there the alternatives are a UNION of one select each.
    """
    conditions = prefix_conditions(model, columns, q)
    if len(conditions) == 1:
        return conditions[0]
    if not sqlite:
        return or_(*conditions)
    live = [model.deleted_at.is_(None)] if issubclass(model, SoftDeleteMixin) else []
    return cast(
        ColumnElement[bool],
        model.id.in_(union_all(*(select(model.id).where(condition, *live) for condition in conditions))),
    )


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


# ------------------------------------------------------------------------------------------ listing


def parse_filters(resource: Resource, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Filter values from query parameters, refusing what is not one of the allowed values."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in resource.filters:
        value = raw.get(spec.key)
        if value is None or value == "":
            continue
        if spec.kind == "choice":
            if value not in spec.choices:
                errors[spec.key] = f"choose one of: {', '.join(spec.choices)}"
            else:
                values[spec.key] = value
        elif spec.kind == "ref":
            try:
                number = int(value)
                if not 1 <= number < 2**31:
                    raise ValueError
                values[spec.key] = number
            except (TypeError, ValueError):
                errors[spec.key] = "must be a record id"
        elif spec.kind == "text":
            text_value = str(value).strip()
            if len(text_value) > 80 or "\x00" in text_value:
                errors[spec.key] = "at most 80 characters"
            else:
                values[spec.key] = text_value
        elif spec.kind in ("bool", "mine"):
            text = str(value).lower()
            if text in ("1", "true", "on", "yes"):
                values[spec.key] = True
            elif text in ("0", "false", "off", "no"):
                values[spec.key] = False
            else:
                errors[spec.key] = "must be true or false"
    if errors:
        raise ValidationError("some filters are not valid", errors)
    return values


def list_query(
    viewer: Viewer,
    resource: Resource,
    params: ListParams,
    *,
    sqlite: bool = False,
    match: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """The visible rows of ``resource`` matching search and filters (no order, no paging).

    ``sqlite``: the query runs on SQLite (see :func:`prefix_clause`). ``match``: search by this condition
    instead (one alternative of a "starts with" search, see :func:`list_page`).
    """
    model = resource.model
    search: list[ColumnElement[bool]] = []
    if match is not None:
        search.append(match)
    elif params.q and (resource.search or resource.prefix_search):
        if params.prefix and resource.prefix_search:
            search.append(prefix_clause(model, resource.prefix_search, params.q.strip(), sqlite=sqlite))
        else:
            search.append(_contains_clause(resource, params.q))
    # the search inside the visibility scope too: a rep's matches are gathered along (owner, name), not probed
    # one by one among everything the rep sees
    query: Select[Any] = restrict(select(model), viewer, resource.entity, narrow=search)
    return query.where(*_filter_conditions(viewer, resource, params))


def _contains_clause(resource: Resource, q: str) -> ColumnElement[bool]:
    """Rows where one of the resource's search columns contains ``q`` (bound as ``q_contains``)."""
    pattern: Any = bindparam("q_contains", f"%{_escape_like(q.strip())}%")
    return or_(*(getattr(resource.model, col).ilike(pattern, escape="\\") for col in resource.search))


def _filter_conditions(viewer: Viewer, resource: Resource, params: ListParams) -> list[ColumnElement[bool]]:
    """The list's own conditions on the row besides a search: the resource's base filter and the chosen filters
    (their values bound as ``filter_<key>``)."""
    model = resource.model
    conditions: list[ColumnElement[bool]] = []
    if resource.base_filter is not None:
        conditions.append(resource.base_filter())
    for spec in resource.filters:
        if spec.key not in params.filters:
            continue
        value = params.filters[spec.key]
        if spec.kind == "mine":
            if value:
                conditions.append(getattr(model, resource.owner_field or "owner_id") == viewer.id)
        else:
            conditions.append(getattr(model, spec.key) == bindparam(f"filter_{spec.key}", value))
    return conditions


def effective_sort(resource: Resource, sort: str | None) -> str:
    """The sort a list gets for ``sort``: ``sort`` when it names a sortable column (``-`` first: descending), else
    the resource's default."""
    key = sort or resource.default_sort
    name = key.lstrip("-")
    return key if name in resource.sortable_keys() or name == "id" else resource.default_sort


def sort_key(resource: Resource, sort: str | None, *, searching: bool = False) -> tuple[Any, bool]:
    """The expression a list is sorted by (then by id), and whether descending."""
    key = effective_sort(resource, sort)
    descending = key.startswith("-")
    column = getattr(resource.model, key.lstrip("-"))
    if searching and isinstance(column.type, String):
        # matches sorted whatever their case (and the lowered name index gives "starts with" matches in order)
        column = func.lower(column)
    return column, descending


def order_clause(resource: Resource, sort: str | None, *, searching: bool = False) -> list[Any]:
    column, descending = sort_key(resource, sort, searching=searching)
    direction = desc if descending else asc
    return [direction(column), direction(resource.model.id)]


def count_rows(session: Session, query: Select[Any]) -> int:
    """How many rows ``query`` (a select from one entity's table) finds, counted without loading them."""
    return int(session.scalar(query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)) or 0)


def list_page(
    session: Session, viewer: Viewer, resource: Resource, params: ListParams, *, columns: Sequence[str] | None = None
) -> Page:
    """One page of the visible rows; a search tries "starts with" (indexed) before "contains".

    A "starts with" search over several indexed columns runs one select per column (disjoint, see
    :func:`prefix_conditions`): their counts add up, and the page is the merge of their rows in list order,
    each read along its own index range — where one OR over the columns would read and sort every match.
    ``columns``: load only these columns (and ``id``) as plain rows — what a list page shows — instead of
    whole records (what the API returns). The statements are built once per shape of request (:func:`_listing`)
    and run with its values.
    """
    if not rule(resource.entity).can_read(viewer.role):
        raise NotFoundError(f"{resource.title} are not available to you")
    page_size = max(1, min(params.page_size, MAX_PAGE_SIZE))
    page = max(1, params.page)
    attempts = [True, False] if params.q and resource.prefix_search else [False]
    if params.q and not resource.search:
        attempts = [True]
    names = None if columns is None else ("id", *(name for name in dict.fromkeys(columns) if name != "id"))
    for prefix in attempts:
        params.prefix = prefix
        listing, values = _listing(session, viewer, resource, params, names)
        total = int(session.scalar(listing.count, values) or 0)
        if total:
            break
    if not total:
        return Page(items=[], total=0, page=page, page_size=page_size)
    values = {**values, "page_size": page_size, "page_offset": (page - 1) * page_size, "page_end": page * page_size}
    items: list[Any]
    if names is not None:
        items = list(session.execute(listing.page, values).all())
    else:
        items = list(session.scalars(listing.page, values).all())
    return Page(items=items, total=total, page=page, page_size=page_size)


@dataclass(frozen=True)
class _Listing:
    """A list's two statements: how many rows match, and one page of them (bound parameters ``page_size``,
    ``page_offset``, ``page_end``, besides the search's and filters' own)."""

    count: Any
    page: Any  # rows of the chosen columns, or whole records


# (resource, person, shape of the request, backend) -> its statements; bounded, the oldest dropped first
_LISTINGS: OrderedDict[tuple[Any, ...], _Listing] = OrderedDict()
_LISTINGS_KEPT = 512  # a person uses a handful of shapes; a manager's search statements are large


def _listing(
    session: Session, viewer: Viewer, resource: Resource, params: ListParams, names: tuple[str, ...] | None
) -> tuple[_Listing, dict[str, Any]]:
    """The statements of ``params``' list and the values to run them with.

    Building a list's statements — the scope's parts, each narrowed by the search, the disjoint alternatives of
    a "starts with" search, the count of each — and their cache key cost more CPU than the database spends
    answering them (a manager's account search: ~3 ms of ~14 per page on SQLite). Every value that varies between
    requests (the search's bounds or pattern, filter values, paging) is a bound parameter, so the statements are
    kept per shape of request: resource, person, whether and how it searches (the names of its values), which
    filters, the sort, the columns, the backend.
    """
    model = resource.model
    q = (params.q or "").strip()
    sqlite = is_sqlite(session)
    values: dict[str, Any] = {}
    if q and params.prefix and resource.prefix_search:
        values.update(prefix_values(model, resource.prefix_search, q))
    elif q and resource.search:
        values["q_contains"] = f"%{_escape_like(q)}%"
    mine = []
    for spec in resource.filters:
        if spec.key in params.filters:
            if spec.kind == "mine":
                mine.append((spec.key, bool(params.filters[spec.key])))
            else:
                values[f"filter_{spec.key}"] = params.filters[spec.key]
    key = (
        resource.name,
        viewer.role,
        viewer.id,
        viewer.department_tree,
        bool(params.q),
        params.prefix,
        # the names of the values say the rest of the shape: whether the lowered columns take part, how many
        # spellings the plain ones try, "contains", which filters
        tuple(sorted(values)),
        tuple(mine),
        effective_sort(resource, params.sort),
        names,
        sqlite,
    )
    listing = _LISTINGS.get(key)
    if listing is None:
        listing = _build_listing(viewer, resource, params, names, sqlite)
        _LISTINGS[key] = listing
        while len(_LISTINGS) > _LISTINGS_KEPT:
            _LISTINGS.popitem(last=False)
    return listing, values


def _build_listing(
    viewer: Viewer, resource: Resource, params: ListParams, names: tuple[str, ...] | None, sqlite: bool
) -> _Listing:
    """A list's statements. One select when it can answer in one (a single "starts with" column, "contains", no
    search; SQLite for a scoped viewer). Otherwise several selects of ids, each read along its own index, and a page
    merged from their first rows (:func:`_merged_page`):

    - a viewer limited to their scope, on PostgreSQL: one select per reason to see a row and alternative of the
      search (:func:`visibility.scope_selects`), the filters on each. A row may be found by several: they are
      counted as a UNION, each id once. The matches themselves are never read from the table again, where
      ``id IN (the scope)`` re-read each (a manager's account search: count and page 1.3 -> 0.6 ms). Not on
      SQLite: given one select with a department's range and a reference's range on two indexes, its planner reads
      the department's whole range (13,000 accounts for one search); there the scope narrowed by each alternative
      (:func:`list_query`) serves better.
    - a viewer who sees every row, with a "starts with" search over several columns: one select per column, each
      leaving out what an earlier one finds (:func:`disjoint`), so their counts add up.
    """
    model = resource.model
    alternatives = _search_alternatives(resource, params)
    scope = None if sqlite else scope_selects(viewer, resource.entity)
    key, descending = sort_key(resource, params.sort, searching=bool(params.q))
    if scope is not None:
        conditions = _filter_conditions(viewer, resource, params)
        searches: list[list[ColumnElement[bool]]] = [[search] for search in alternatives] or [[]]
        selects = [part.where(*search, *conditions) for part in scope for search in searches] or [
            select(model.id).where(false())
        ]
        matches = selects[0] if len(selects) == 1 else union(*selects)
        count: Any = select(func.count()).select_from(matches.subquery("matches"))
        return _Listing(count, _merged_page(model, names, selects, key, descending, distinct=True))
    if len(alternatives) > 1:
        branches = [list_query(viewer, resource, params, match=m) for m in disjoint(alternatives)]
        counts = [b.with_only_columns(func.count(), maintain_column_froms=True).order_by(None) for b in branches]
        count = select(reduce(operator.add, (c.scalar_subquery() for c in counts)))
        return _Listing(count, _merged_page(model, names, branches, key, descending, distinct=False))
    query = list_query(viewer, resource, params, sqlite=sqlite)
    count = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    direction = desc if descending else asc
    page: Any = query.order_by(direction(key), direction(model.id))
    if names is not None:
        page = page.with_only_columns(*(getattr(model, n) for n in names), maintain_column_froms=True)
    size, offset = bindparam("page_size", type_=Integer()), bindparam("page_offset", type_=Integer())
    return _Listing(count, page.limit(size).offset(offset))


def _search_alternatives(resource: Resource, params: ListParams) -> list[ColumnElement[bool]]:
    """The search as alternatives, each an index range where it can be: one per "starts with" column
    (:func:`prefix_conditions`), or the one "contains" condition; none without a search."""
    q = (params.q or "").strip()
    if not q or not (resource.search or resource.prefix_search):
        return []
    if params.prefix and resource.prefix_search:
        return prefix_conditions(resource.model, resource.prefix_search, q)
    return [_contains_clause(resource, q)]


def _merged_page(
    model: Any,
    names: tuple[str, ...] | None,
    selects: Sequence[Select[Any]],
    key: Any,
    descending: bool,
    *,
    distinct: bool,
) -> Select[Any]:
    """One page of the rows ``selects`` find, in list order (bound ``page_size``, ``page_offset``, ``page_end``):
    each select's first rows up to the end of the page, read in list order along its own index range, then only
    those merged, the page's ids picked, and only the page's rows read — rather than reading and sorting every
    match. ``distinct``: a row may be found by several selects (a UNION keeps it once). ``names``: these columns
    only, else whole records."""
    direction = desc if descending else asc
    end = bindparam("page_end", type_=Integer())
    heads = [
        select(*head.c)
        for head in (
            part.with_only_columns(model.id, key.label("sort_key"), maintain_column_froms=True)
            .order_by(direction(key), direction(model.id))
            .limit(end)
            .subquery()
            for part in selects
        )
    ]
    firsts = (union if distinct else union_all)(*heads).subquery("firsts")
    shown = (
        select(firsts.c.id, firsts.c.sort_key)
        .order_by(direction(firsts.c.sort_key), direction(firsts.c.id))
        .limit(bindparam("page_size", type_=Integer()))
        .offset(bindparam("page_offset", type_=Integer()))
        .subquery("shown")
    )
    rows: Any = select(model) if names is None else select(*(getattr(model, n) for n in names))
    return rows.join(shown, model.id == shown.c.id).order_by(direction(shown.c.sort_key), direction(shown.c.id))


def labels_for(
    session: Session,
    viewer: Viewer,
    resource: Resource,
    rows: Sequence[Any],
    columns: Sequence[Column] | None = None,
) -> dict[str, dict[int, str]]:
    """Names for the reference columns shown for ``rows`` (default: every reference of the resource)."""
    wanted: dict[str, set[int]] = {}
    keys = {c.key: c.ref for c in (columns or resource.columns) if c.kind == "ref" and c.ref}
    if columns is None:
        keys.update({k: v for k, v in resource.refs.items() if k not in keys})
    for key, entity in keys.items():
        for row in rows:
            value = getattr(row, key, None)
            if value is not None:
                wanted.setdefault(entity, set()).add(value)
    return ref_labels(session, viewer, wanted)


# ------------------------------------------------------------------------------------------- export


def export_columns(resource: Resource, session: Session) -> list[str]:
    names = [n for n in resource.read_schema.model_fields if n not in ("lines", "custom")]
    if resource.custom_entity:
        names += [f"custom.{d.name}" for d in custom_definitions(session, resource.custom_entity)]
    return names


def export_csv(
    session: Session, viewer: Viewer, resource: Resource, params: ListParams, chunk: int = 1000
) -> Iterator[str]:
    """CSV text (header first) of every visible row matching the list's search and filters."""
    if not rule(resource.entity).can_read(viewer.role):
        raise NotFoundError(f"{resource.title} are not available to you")
    columns = export_columns(resource, session)
    if params.q and resource.prefix_search:
        # the same rows the list shows: "starts with" when that finds any, else "contains"
        params.prefix = True
        found = count_rows(session, list_query(viewer, resource, params, sqlite=is_sqlite(session)))
        params.prefix = bool(found) or not resource.search
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield buffer.getvalue()
    last_id = 0
    # keyset paging by id keeps memory flat and stays correct while rows are added
    base = list_query(viewer, resource, params, sqlite=is_sqlite(session)).order_by(resource.model.id)
    while True:
        rows: list[Any] = list(session.scalars(base.where(resource.model.id > last_id).limit(chunk)).all())
        if not rows:
            break
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            custom = getattr(row, "custom", None) or {}
            writer.writerow(
                [_csv_value(custom.get(c[7:]) if c.startswith("custom.") else getattr(row, c, None)) for c in columns]
            )
        last_id = rows[-1].id
        yield buffer.getvalue()
        session.expunge_all()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | Decimal):
        return str(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        # spreadsheet programs run cells starting with these as formulas; a quote keeps them as text
        return "'" + value
    return value


# ---------------------------------------------------------------------------------------- custom fields


def custom_definitions(session: Session, entity: str) -> list[CustomFieldDefinition]:
    return list(session.scalars(_CUSTOM_DEFINITIONS, {"entity": entity}))


# built once (a statement built per call costs more than it takes to run)
_CUSTOM_DEFINITIONS = (
    select(CustomFieldDefinition)
    .where(CustomFieldDefinition.entity == bindparam("entity"), CustomFieldDefinition.deleted_at.is_(None))
    .order_by(CustomFieldDefinition.position, CustomFieldDefinition.id)
)


def validate_custom(
    session: Session, entity: str | None, values: Mapping[str, Any] | None, existing: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Merge ``values`` into ``existing`` custom values, checking each against its admin-defined type."""
    merged: dict[str, Any] = dict(existing or {})
    if entity is None:
        if values:
            raise ValidationError("this record has no custom fields", {"custom": "not supported"})
        return merged
    definitions = {d.name: d for d in custom_definitions(session, entity)}
    errors: dict[str, str] = {}
    for name, raw in (values or {}).items():
        definition = definitions.get(name)
        if definition is None:
            errors[f"custom.{name}"] = "unknown custom field"
            continue
        try:
            merged[name] = _custom_value(definition, raw)
        except ValueError as exc:
            errors[f"custom.{name}"] = str(exc)
    for name, definition in definitions.items():
        if definition.required and merged.get(name) in (None, "") and f"custom.{name}" not in errors:
            errors[f"custom.{name}"] = "required"
    if errors:
        raise ValidationError("some custom fields are not valid", errors)
    return merged


def _custom_value(definition: CustomFieldDefinition, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    kind = definition.field_type
    if kind == "text":
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise ValueError("must be text")
        value = str(raw).strip()
        if len(value) > 500:
            raise ValueError("at most 500 characters")
        return value
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ValueError("must be a number")
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite() or abs(number) >= Decimal("1e15"):
            raise ValueError("must be a finite number below 10^15")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no"):
            return False
        raise ValueError("must be yes or no")
    if kind == "choice":
        value = str(raw).strip()
        if value not in (definition.choices or []):
            raise ValueError(f"choose one of: {', '.join(definition.choices or [])}")
        return value
    raise ValueError(f"unsupported field type {kind}")


# -------------------------------------------------------------------------------------------- writes


def check_refs(session: Session, viewer: Viewer, resource: Resource, values: Mapping[str, Any]) -> None:
    """Every referenced record must exist and be visible to the viewer (else: 'unknown ...', no leak)."""
    errors: dict[str, str] = {}
    for key, entity in resource.refs.items():
        value = values.get(key)
        if value is None:
            continue
        if not is_visible(session, viewer, entity, value):
            errors[key] = f"unknown {entity.replace('_', ' ').rstrip('s')}"
    if errors:
        raise ValidationError("some references are not valid", errors)


def _department_for(session: Session, viewer: Viewer, owner_id: int | None) -> int | None:
    if owner_id is None:
        return viewer.department_id
    if owner_id == viewer.id:
        return viewer.department_id
    return session.scalar(select(User.department_id).where(User.id == owner_id))


def prepare_create(session: Session, viewer: Viewer, resource: Resource, data: BaseModel) -> dict[str, Any]:
    """Validated column values for a new record: owner rules, department, custom fields, references."""
    require_write(session, viewer, resource.entity)
    values = data.model_dump()
    if "custom" in values:
        values["custom"] = validate_custom(session, resource.custom_entity, values.get("custom"), None)
    elif resource.custom_entity:
        validate_custom(session, resource.custom_entity, {}, None)
    check_refs(session, viewer, resource, values)
    if resource.owner_field:
        values[resource.owner_field] = assignable_owner(session, viewer, values.get(resource.owner_field))
    model = resource.model
    if "department_id" in records.column_names(model) and resource.owner_field:
        chosen = values.get("department_id")
        if viewer.role in ("sales_rep", "service_agent", "marketing_analyst") or chosen is None:
            values["department_id"] = _department_for(session, viewer, values.get(resource.owner_field))
        elif viewer.role == "manager" and chosen not in viewer.department_tree:
            raise ValidationError("choose a department of your own", {"department_id": "not in your department"})
    return values


def create(session: Session, viewer: Viewer, resource: Resource, data: BaseModel) -> Any:
    """Create a record (through its hook when it has business rules); the caller commits."""
    values = prepare_create(session, viewer, resource, data)
    if resource.create_hook is not None:
        return resource.create_hook(session, viewer, values)
    return records.create_record(session, resource.model, values, viewer.user)


def prepare_update(
    session: Session, viewer: Viewer, resource: Resource, record: Any, data: BaseModel
) -> tuple[dict[str, Any], int]:
    require_write(session, viewer, resource.entity, record)
    values = data.model_dump(exclude_unset=True)
    version = values.pop("version")
    if "custom" in values:
        values["custom"] = validate_custom(session, resource.custom_entity, values["custom"], record.custom)
    check_refs(session, viewer, resource, {k: v for k, v in values.items() if getattr(record, k, None) != v})
    owner = resource.owner_field
    if owner and owner in values:
        if values[owner] is None:
            values.pop(owner)
        elif values[owner] != getattr(record, owner):
            if viewer.role in ("sales_rep", "service_agent", "marketing_analyst"):
                raise PermissionDeniedError("only a manager or an admin can hand a record to someone else")
            values[owner] = assignable_owner(session, viewer, values[owner])
    if "department_id" in values and values["department_id"] != getattr(record, "department_id", None):
        if viewer.role in ("sales_rep", "service_agent", "marketing_analyst"):
            raise PermissionDeniedError("only a manager or an admin can move a record to another department")
        if viewer.role == "manager" and values["department_id"] not in viewer.department_tree:
            raise ValidationError("choose a department of your own", {"department_id": "not in your department"})
    return values, version


def update(session: Session, viewer: Viewer, resource: Resource, record_id: int, data: BaseModel) -> Any:
    """Apply a partial update; a stale ``version`` is refused with ConflictError; the caller commits."""
    record = get_visible(session, viewer, resource.entity, record_id)
    values, version = prepare_update(session, viewer, resource, record, data)
    if resource.update_hook is not None:
        return resource.update_hook(session, viewer, record, values, version)
    return records.update_record(session, record, values, viewer.user, version)


def delete(session: Session, viewer: Viewer, resource: Resource, record_id: int, version: int | None) -> Any:
    record = get_visible(session, viewer, resource.entity, record_id)
    require_write(session, viewer, resource.entity, record)
    if not resource.deletable or not isinstance(record, SoftDeleteMixin):
        raise PermissionDeniedError(f"{resource.title.lower()} cannot be deleted")
    return records.soft_delete(session, cast(Any, record), viewer.user, version)


def get(session: Session, viewer: Viewer, resource: Resource, record_id: int) -> Any:
    record = get_visible(session, viewer, resource.entity, record_id)
    if resource.base_filter is not None:
        model = resource.model
        if session.scalar(select(model.id).where(model.id == record_id, resource.base_filter())) is None:
            raise NotFoundError(f"{resource.singular.lower()} #{record_id} was not found")
    return record


def child_rows(
    session: Session, viewer: Viewer, child: Child, parent_id: int, limit: int = 50
) -> tuple[list[Any], int]:
    model: Any = rule(child.entity).model
    query = restrict(select(model).where(getattr(model, child.fk) == parent_id), viewer, child.entity)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows: list[Any] = session.scalars(query.order_by(model.id.desc()).limit(limit)).all()  # type: ignore[assignment]
    return list(rows), int(total)


__all__ = [
    "Child",
    "Column",
    "FilterSpec",
    "ListParams",
    "Page",
    "Resource",
    "create",
    "delete",
    "export_csv",
    "get",
    "list_page",
    "lookup",
    "update",
]
