"""Business rules: which rows each role may see and change (DESIGN.md §3) — the one place it is decided.

Pages, the JSON API and CSV exports all build their queries through :func:`restrict`, and load single
records through :func:`get_visible`; a row outside the viewer's scope is "not found" (404), never 403.

Roles:
- ``admin``: everything, may edit everything.
- ``executive``: everything, read-only.
- ``manager``: rows of their department and its sub-departments (by the row's department, its owner's
  department, or its account), plus accounts shared with them; edits what they see.
- ``sales_rep`` / ``service_agent``: rows they own, plus accounts shared with them and the records on
  accounts they may see.
- ``marketing_analyst``: all customer-side data read-only; edits campaigns, templates, surveys and
  competitors; never edits deals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    exists,
    false,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from crm_app.db import joined_ids
from crm_app.errors import NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import (
    Account,
    AccountShare,
    Activity,
    Base,
    Campaign,
    CampaignMember,
    Case,
    Communication,
    Competitor,
    CompetitorOrder,
    CompetitorProduct,
    Contact,
    CustomFieldDefinition,
    Department,
    DocumentTemplate,
    Opportunity,
    Order,
    Payment,
    PaymentPlan,
    PipelineStage,
    PricePolicy,
    PricePolicyItem,
    Product,
    ProductCategory,
    PurchaseOrder,
    Quote,
    SalesPlan,
    SoftDeleteMixin,
    Survey,
    SurveyQuestion,
    SurveyResponse,
    Template,
    User,
)

SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]

ADMIN = "admin"
EXECUTIVE = "executive"
MANAGER = "manager"
SALES_REP = "sales_rep"
SERVICE_AGENT = "service_agent"
MARKETING = "marketing_analyst"
ALL_ROLES = frozenset({ADMIN, EXECUTIVE, MANAGER, SALES_REP, SERVICE_AGENT, MARKETING})
FIELD_ROLES = frozenset({SALES_REP, SERVICE_AGENT})


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as visibility needs them: id, role and (for managers) the department tree."""

    id: int
    role: str
    department_id: int | None
    department_tree: tuple[int, ...] = ()
    username: str = ""
    full_name: str = ""
    user: Any = field(default=None, compare=False, repr=False)  # the loaded User, the actor of audited changes

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def department_tree(session: Session, department_id: int | None) -> tuple[int, ...]:
    """``department_id`` and all its descendants (the department first, then the others by id), in one statement."""
    if department_id is None:
        return ()
    return as_tree(department_id, session.scalar(_DEPARTMENT_TREE, {"root": department_id}))


def as_tree(department_id: int, tree_ids: str | None) -> tuple[int, ...]:
    """A department tree as :class:`Viewer` holds it, from the ids :func:`department_tree_of` gives: the
    department first, then the others by id."""
    found = {int(i) for i in (tree_ids or "").split(",") if i}
    return (department_id, *sorted(found - {department_id}))


def department_tree_of(department: Any) -> Any:
    """The ids of the department tree of ``department`` (a column of the statement it goes in, such as the
    signed-in user's department, or a parameter) as one text, ``"3,7,9"``: every department with each of its
    ancestors, walked once (a company has a few dozen), then those under ``department``. In the signed-in user's
    statement, a manager's tree comes with the user rather than by a statement of its own."""
    pairs = select(Department.id.label("id"), Department.id.label("root")).cte("department_roots", recursive=True)
    # UNION, not UNION ALL: a pair already found ends the walk, so a loop in the tree cannot run forever
    pairs = pairs.union(select(Department.id, pairs.c.root).where(Department.parent_id == pairs.c.id))
    return select(joined_ids(pairs.c.id)).where(pairs.c.root == department).scalar_subquery()


# built once, as every statement asked often
_DEPARTMENT_TREE = select(department_tree_of(bindparam("root", type_=Integer())))


def viewer_for(session: Session, user: User, tree_ids: str | None = None) -> Viewer:
    """``user`` as visibility sees them; a manager's department tree read here unless given (``tree_ids``, as
    :func:`department_tree_of` gives it)."""
    tree: tuple[int, ...] = ()
    if user.role == MANAGER and user.department_id is not None:
        if tree_ids is None:
            tree = department_tree(session, user.department_id)
        else:
            tree = as_tree(user.department_id, tree_ids)
    return Viewer(
        id=user.id,
        role=user.role,
        department_id=user.department_id,
        department_tree=tree,
        username=user.username,
        full_name=user.full_name,
        user=user,
    )


@dataclass(frozen=True)
class Rule:
    """How one entity is scoped and who may read or change it.

    ``read_all``: roles that see every row. ``read_scoped``: roles that see the rows in their scope,
    found through ``owner`` / ``department`` / ``account`` columns or a ``parent`` entity's visibility.
    Roles in neither see nothing. ``write``: roles that may create and change (within what they see).
    """

    model: type[Base]
    read_all: frozenset[str]
    read_scoped: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset({ADMIN})
    owner: str | None = None
    department: str | None = None
    account: str | None = None
    parent: tuple[str, str] | None = None  # (column, entity) — visible when the parent row is
    extra: tuple[str, ...] = field(default_factory=tuple)
    # (owner column, department column): the live account's owner and department, mirrored on the row by the
    # database (NULL once the account is deleted), so that :func:`scope_on` sees the account from the row alone
    account_mirror: tuple[str, str] | None = None

    def can_read(self, role: str) -> bool:
        return role in self.read_all or role in self.read_scoped


EVERYONE = ALL_ROLES
ALL_READERS = frozenset({ADMIN, EXECUTIVE})
CUSTOMER_READERS = frozenset({ADMIN, EXECUTIVE, MARKETING})
SCOPED = frozenset({MANAGER, SALES_REP, SERVICE_AGENT})
FIELD_WRITERS = frozenset({ADMIN, MANAGER, SALES_REP, SERVICE_AGENT})
DEAL_WRITERS = frozenset({ADMIN, MANAGER, SALES_REP})
MARKETING_WRITERS = frozenset({ADMIN, MANAGER, MARKETING})
CATALOGUE_WRITERS = frozenset({ADMIN, MANAGER})

RULES: dict[str, Rule] = {
    "accounts": Rule(
        Account,
        CUSTOMER_READERS,
        SCOPED,
        FIELD_WRITERS,
        owner="owner_id",
        department="department_id",
        extra=("shares",),
    ),
    "contacts": Rule(Contact, CUSTOMER_READERS, SCOPED, FIELD_WRITERS, owner="owner_id", account="account_id"),
    "opportunities": Rule(
        Opportunity,
        CUSTOMER_READERS,
        SCOPED,
        DEAL_WRITERS,
        owner="owner_id",
        department="department_id",
        account="account_id",
        account_mirror=("account_owner_id", "account_department_id"),  # migration 0009
    ),
    "quotes": Rule(
        Quote,
        CUSTOMER_READERS,
        SCOPED,
        DEAL_WRITERS,
        owner="owner_id",
        department="department_id",
        account="account_id",
    ),
    "orders": Rule(
        Order,
        CUSTOMER_READERS,
        SCOPED,
        DEAL_WRITERS,
        owner="owner_id",
        department="department_id",
        account="account_id",
    ),
    "payments": Rule(Payment, CUSTOMER_READERS, SCOPED, DEAL_WRITERS, parent=("order_id", "orders")),
    "payment_plans": Rule(PaymentPlan, CUSTOMER_READERS, SCOPED, DEAL_WRITERS, parent=("order_id", "orders")),
    "activities": Rule(Activity, CUSTOMER_READERS, SCOPED, FIELD_WRITERS, owner="owner_id", account="account_id"),
    "cases": Rule(
        Case,
        CUSTOMER_READERS,
        SCOPED,
        FIELD_WRITERS,
        owner="owner_id",
        department="department_id",
        account="account_id",
    ),
    "communications": Rule(
        Communication,
        CUSTOMER_READERS,
        SCOPED,
        frozenset({ADMIN, MANAGER, SALES_REP, SERVICE_AGENT, MARKETING}),
        owner="user_id",
        account="account_id",
    ),
    "campaigns": Rule(Campaign, EVERYONE, write=MARKETING_WRITERS),
    "campaign_members": Rule(CampaignMember, CUSTOMER_READERS, SCOPED, MARKETING_WRITERS, account="account_id"),
    "templates": Rule(Template, EVERYONE, write=MARKETING_WRITERS),
    "surveys": Rule(Survey, EVERYONE, write=MARKETING_WRITERS),
    "survey_questions": Rule(SurveyQuestion, EVERYONE, write=MARKETING_WRITERS),
    "survey_responses": Rule(
        SurveyResponse,
        CUSTOMER_READERS,
        SCOPED,
        frozenset({ADMIN, MANAGER, SALES_REP, SERVICE_AGENT, MARKETING}),
        owner="user_id",
        account="account_id",
    ),
    "competitors": Rule(Competitor, EVERYONE, write=MARKETING_WRITERS),
    "competitor_products": Rule(CompetitorProduct, EVERYONE, write=MARKETING_WRITERS),
    "competitor_orders": Rule(CompetitorOrder, CUSTOMER_READERS, SCOPED, MARKETING_WRITERS, account="account_id"),
    "products": Rule(Product, EVERYONE, write=CATALOGUE_WRITERS),
    "product_categories": Rule(ProductCategory, EVERYONE, write=CATALOGUE_WRITERS),
    "price_policies": Rule(PricePolicy, EVERYONE, write=CATALOGUE_WRITERS),
    "price_policy_items": Rule(PricePolicyItem, EVERYONE, write=CATALOGUE_WRITERS),
    "document_templates": Rule(DocumentTemplate, EVERYONE, write=CATALOGUE_WRITERS),
    "sales_plans": Rule(SalesPlan, ALL_READERS, SCOPED, CATALOGUE_WRITERS, owner="user_id", department="department_id"),
    "purchase_orders": Rule(
        PurchaseOrder,
        ALL_READERS,
        frozenset({MANAGER}),
        CATALOGUE_WRITERS,
        owner="owner_id",
        department="department_id",
    ),
    "users": Rule(User, EVERYONE),
    "departments": Rule(Department, EVERYONE),
    "custom_fields": Rule(CustomFieldDefinition, frozenset({ADMIN})),
    "pipeline_stages": Rule(PipelineStage, EVERYONE),
}


def rule(entity: str) -> Rule:
    try:
        return RULES[entity]
    except KeyError:
        raise NotFoundError(f"no such kind of record: {entity}") from None


def can_read(viewer: Viewer, entity: str) -> bool:
    return rule(entity).can_read(viewer.role)


def can_write(viewer: Viewer, entity: str) -> bool:
    return viewer.role in rule(entity).write and can_read(viewer, entity)


def _shared_account_ids(viewer: Viewer, *, editable_only: bool = False) -> Select[Any]:
    query = select(AccountShare.account_id).where(AccountShare.user_id == viewer.id)
    if editable_only:
        query = query.where(AccountShare.can_edit)
    return query


def _department_users(viewer: Viewer) -> Select[Any]:
    return select(User.id).where(among(User.department_id, viewer.department_tree))


def among(column: Any, values: Iterable[int]) -> ColumnElement[bool]:
    """``column`` is one of the integers ``values``, written into the statement rather than bound. For lists that
    are part of what a statement is kept for (a manager's department tree, the pipeline's stages): an expanding
    ``IN`` of bound values is rewritten on every execution, for every list in the statement."""
    literals = [literal_column(str(int(value)), Integer()) for value in values]
    if not literals:
        return false()
    return column == literals[0] if len(literals) == 1 else column.in_(literals)


def scope_clause(
    viewer: Viewer,
    entity: str,
    *,
    live: bool = False,
    one_row: bool = False,
    narrow: Sequence[ColumnElement[bool]] = (),
) -> ColumnElement[bool] | None:
    """The WHERE clause limiting ``entity`` to what ``viewer`` may see (None: every row; ``false()``: none).

    The scope is ``id IN (a UNION of one small select per reason to see a row)``: each part can use its own
    index (owner, department, account), where one OR over all the reasons would make the database scan.
    ``live``: the caller keeps live rows only (and says so itself), so the parts may leave out soft-deleted
    rows too — an index on (owner, deleted_at) then answers a part alone.
    ``one_row``: the caller's query already picks a few rows by key (one record, the names of a page's
    references), so each row is checked on its own instead — its owner, a share, its account by its key —
    rather than gathering every id the viewer may see first. Lists keep the union, which reads only the
    viewer's own rows along their indexes.
    ``narrow``: conditions on the row that the caller's query applies too (a search): each part of the union
    that reads ``entity``'s own table applies them as well, so it gathers only the matching rows along an index
    such as (owner_id, deleted_at, lower(name)), instead of every row the viewer sees for the caller to probe.
    """
    spec = rule(entity)
    if viewer.role in spec.read_all:
        return None
    if viewer.role not in spec.read_scoped:
        return false()
    if one_row:
        return _row_scope_of(entity, viewer.role, viewer.id, viewer.department_tree)
    model: Any = spec.model
    mode = LIVE_ROWS if live else ALL_ROWS
    if narrow:
        selects = _scope_selects(entity, viewer.role, viewer.id, viewer.department_tree, mode)
        return model.id.in_(_union(model, [part.where(*narrow) if own else part for part, own in selects]))
    return model.id.in_(_scope_parts(entity, viewer.role, viewer.id, viewer.department_tree, mode))


# What the parts of a scope leave out (_scope_parts): nothing; the soft-deleted rows where that lets an index
# answer a part alone (the caller filters the rows it reads anyway); every soft-deleted row (ids for others).
ALL_ROWS, LIVE_ROWS, LIVE_IDS = "all", "live", "live ids"


@lru_cache(maxsize=4096)
def _scope_parts(
    entity: str, role: str, user_id: int, department_tree: tuple[int, ...], mode: str
) -> Select[Any] | CompoundSelect:
    """The ids a scoped role sees of ``entity`` (:func:`scope_clause`), built once per person (SQL expressions
    never change once built; a page asks for the same scope several times, and every page of a signed-in
    person asks for it again): one select per reason to see a row (:func:`_scope_selects`)."""
    selects = _scope_selects(entity, role, user_id, department_tree, mode)
    return _union(rule(entity).model, [part for part, _ in selects])


@lru_cache(maxsize=4096)
def _scope_selects(
    entity: str, role: str, user_id: int, department_tree: tuple[int, ...], mode: str
) -> tuple[tuple[Select[Any], bool], ...]:
    """One select of ids per reason to see a row (:func:`_reasons`), each with whether it reads ``entity``'s own
    table (so that conditions on the row may narrow it, see :func:`scope_clause`)."""
    viewer = Viewer(id=user_id, role=role, department_id=None, department_tree=department_tree)
    model: Any = rule(entity).model
    alive = [model.deleted_at.is_(None)] if mode != ALL_ROWS and issubclass(model, SoftDeleteMixin) else []
    parts: list[tuple[Select[Any], bool]] = []
    for reason, condition in _reasons(viewer, entity, model, partial(_parent_in_visible_ids, viewer)):
        if reason == "shared" and mode != LIVE_IDS:
            # the shares alone (the shared rows are read, and filtered, by the caller anyway)
            parts.append((_shared_account_ids(viewer), False))
        else:
            parts.append((select(model.id).where(condition, *alive), True))
    return tuple(parts)


def scope_selects(viewer: Viewer, entity: str) -> tuple[Select[Any], ...] | None:
    """The live rows of ``entity`` that ``viewer`` sees as one select of ids from the entity's own table per reason
    to see a row (:func:`_reasons`): theirs, their department's, shared with them, on a visible account… None:
    ``viewer`` sees every live row; no selects: none.

    For a list that adds its own conditions on the row (a search, filters) to each select and takes the UNION of
    what they find: each select then reads only the matching rows along its own index — (owner_id, deleted_at,
    lower(name)), (department_id, …) — and the union holds every id once, so the rows need not be read again to
    be counted or ordered (where ``id IN (the scope)`` re-reads each candidate row from the table)."""
    spec = rule(entity)
    if viewer.role in spec.read_all:
        return None
    if viewer.role not in spec.read_scoped:
        return ()
    return tuple(part for part, _ in _scope_selects(entity, viewer.role, viewer.id, viewer.department_tree, LIVE_IDS))


def _union(model: Any, parts: Sequence[Select[Any]]) -> Select[Any] | CompoundSelect:
    if not parts:
        return select(model.id).where(false())
    return parts[0] if len(parts) == 1 else union_all(*parts)


@lru_cache(maxsize=4096)
def _row_scope_of(entity: str, role: str, user_id: int, department_tree: tuple[int, ...]) -> ColumnElement[bool]:
    """:func:`scope_clause` row by row for a scoped role, built once per person (as :func:`_scope_parts`)."""
    viewer = Viewer(id=user_id, role=role, department_id=None, department_tree=department_tree)
    return _row_scope_on(viewer, entity, rule(entity).model)


def _row_scope_on(viewer: Viewer, entity: str, model: Any) -> ColumnElement[bool]:
    """Any reason to see the row ``model`` (the entity's class, or an alias of it inside a parent's check)."""
    reasons = [condition for _, condition in _reasons(viewer, entity, model, partial(_parent_visible, viewer))]
    return or_(*reasons) if reasons else false()


def _sets_scope_on(viewer: Viewer, entity: str, model: Any, *, shares: bool = True) -> ColumnElement[bool]:
    """Any reason to see the row ``model``, each a test of one of its columns against a set that does not depend
    on the row (``owner_id IN (the department's people)``, ``account_id IN (the visible accounts)``): PostgreSQL
    hashes such a set once per statement, SQLite builds an index on it. Where the row mirrors its account's owner
    and department (``Rule.account_mirror``), its account is checked on those: against the same small sets as the
    row's own owner and department, instead of among every account the viewer sees."""
    mirror = rule(entity).account_mirror

    def parent_visible(parent_entity: str, key: Any) -> ColumnElement[bool]:
        if parent_entity == "accounts" and mirror:
            return _mirrored_account_visible(viewer, model, key, mirror, shares=shares)
        return _parent_in_visible_ids(viewer, parent_entity, key)

    reasons = [c for reason, c in _reasons(viewer, entity, model, parent_visible) if shares or reason != "shared"]
    return or_(*reasons) if reasons else false()


@dataclass(frozen=True)
class _MirroredAccount:
    """An account as a row mirrors it (``Rule.account_mirror``): its key and its owner and department columns."""

    id: Any
    owner_id: Any
    department_id: Any


def _mirrored_account_visible(
    viewer: Viewer, model: Any, key: Any, mirror: tuple[str, str], *, shares: bool = True
) -> ColumnElement[bool]:
    """The account ``key`` of the row ``model`` is visible, told by the owner and department the row mirrors
    (NULL when the account is deleted): the accounts' own reasons, asked of the mirror. A share is no reason to
    see a deleted account, and the mirror does not tell deletion when both are empty, so the shares count only
    for live accounts."""
    account = _MirroredAccount(key, *(getattr(model, column) for column in mirror))
    reasons = [
        key.in_(live_shared_account_ids(viewer)) if reason == "shared" else condition
        for reason, condition in _reasons(viewer, "accounts", account, partial(_parent_in_visible_ids, viewer))
        if shares or reason != "shared"
    ]
    return or_(*reasons) if reasons else false()


def live_shared_account_ids(viewer: Viewer) -> Select[Any]:
    """The ids of the live accounts shared with ``viewer``."""
    return select(Account.id).where(Account.id.in_(_shared_account_ids(viewer)), Account.deleted_at.is_(None))


def scope_on(viewer: Viewer, entity: str, rows: Any, *, shares: bool = True) -> ColumnElement[bool] | None:
    """The scope as a check of each row of ``rows`` — ``entity``'s class, or an alias of it over other rows of it
    (such as a subquery of the rows a statement reads from an index) carrying its id and scope columns — against sets
    worked out once per statement: the department's people, the visible accounts (:func:`_sets_scope_on`). None:
    ``viewer`` sees every (live) row.

    For a statement that reads a bounded slice of a table along its own index (the pipeline board's deals) for a
    viewer who sees much of it (:func:`sees_broadly`): rather than gathering every id the viewer sees first
    (:func:`scope_clause`; a manager: ~11,000 deals, each reached up to three times) or checking each row's
    account row by row (``one_row``). ``shares=False``: leaving out the rows seen only through a shared account
    (for a manager, what they see through their departments alone)."""
    spec = rule(entity)
    if viewer.role in spec.read_all:
        return None
    if viewer.role not in spec.read_scoped:
        return false()
    return _sets_scope_on(viewer, entity, rows, shares=shares)


def sees_broadly(viewer: Viewer) -> bool:
    """Whether ``viewer``'s scope is a department tree (a manager): thousands of rows of each entity, for which a
    statement reading a bounded slice of a table is better checked by :func:`scope_on`."""
    return viewer.role == MANAGER and bool(viewer.department_tree)


def _reasons(
    viewer: Viewer, entity: str, model: Any, parent_visible: Callable[[str, Any], ColumnElement[bool]]
) -> list[tuple[str, ColumnElement[bool]]]:
    """Each reason a scoped viewer has to see a row of ``entity`` (DESIGN.md §3), as (name, condition on the
    row ``model``): theirs, their department's (managers), shared with them, on an account or under a parent
    row they see — ``parent_visible(entity, key column)`` says how that is checked."""
    spec = rule(entity)
    manager = viewer.role == MANAGER and bool(viewer.department_tree)
    reasons: list[tuple[str, ColumnElement[bool]]] = []
    if spec.owner:
        owner_col = getattr(model, spec.owner)
        reasons.append(("owned", owner_col == viewer.id))
        if manager:
            reasons.append(("owned in the department", owner_col.in_(_department_users(viewer))))
    if spec.department and manager:
        reasons.append(("of the department", among(getattr(model, spec.department), viewer.department_tree)))
    if "shares" in spec.extra:
        reasons.append(("shared", model.id.in_(_shared_account_ids(viewer))))
    if spec.account:
        reasons.append(("on a visible account", parent_visible("accounts", getattr(model, spec.account))))
    if spec.parent:
        column, parent_entity = spec.parent
        reasons.append(("under a visible parent", parent_visible(parent_entity, getattr(model, column))))
    return reasons


def _parent_in_visible_ids(viewer: Viewer, entity: str, key: Any) -> ColumnElement[bool]:
    """``key`` is among the ids of ``entity`` that ``viewer`` sees (:func:`visible_ids`, gathered once)."""
    return key.in_(visible_ids(viewer, entity))


def _parent_visible(viewer: Viewer, entity: str, key: Any) -> ColumnElement[bool]:
    """The live ``entity`` row that ``key`` points at is visible (:func:`visible_ids`, for that one row)."""
    spec = rule(entity)
    parent: Any = aliased(spec.model)
    conditions: list[ColumnElement[bool]] = [parent.id == key]
    if issubclass(spec.model, SoftDeleteMixin):
        conditions.append(parent.deleted_at.is_(None))
    if viewer.role not in spec.read_all:
        conditions.append(_row_scope_on(viewer, entity, parent) if viewer.role in spec.read_scoped else false())
    return exists().where(*conditions)


def visible_ids(viewer: Viewer, entity: str) -> Select[Any] | CompoundSelect:
    """A subquery of the ids of ``entity`` that ``viewer`` may see (live rows only)."""
    spec = rule(entity)
    model: Any = spec.model
    if viewer.role in spec.read_scoped and viewer.role not in spec.read_all:
        return _scope_parts(entity, viewer.role, viewer.id, viewer.department_tree, LIVE_IDS)
    query = select(model.id)
    if viewer.role not in spec.read_all:
        query = query.where(false())
    if issubclass(model, SoftDeleteMixin):
        query = query.where(model.deleted_at.is_(None))
    return query


def restrict(
    query: SelectT,
    viewer: Viewer,
    entity: str,
    *,
    include_deleted: bool = False,
    one_row: bool = False,
    narrow: Sequence[ColumnElement[bool]] = (),
) -> SelectT:
    """Add to ``query`` (selecting from ``entity``'s table) the WHERE clauses of ``viewer``'s scope.

    ``one_row``: ``query`` already picks a few rows by key, so the scope is checked row by row (:func:`scope_clause`).
    ``narrow``: conditions the rows must also meet (a search): added to ``query``, and inside the scope's
    union too, so that it gathers only matching rows (:func:`scope_clause`).
    """
    model: Any = rule(entity).model
    result: Any = query.where(*narrow) if narrow else query
    clause = scope_clause(viewer, entity, live=not include_deleted, one_row=one_row, narrow=narrow)
    if clause is not None:
        result = result.where(clause)
    if not include_deleted and issubclass(model, SoftDeleteMixin):
        result = result.where(model.deleted_at.is_(None))
    return cast(SelectT, result)


def account_rows(query: SelectT, entity: str, account_id: Any) -> SelectT:
    """``query`` limited to the live ``entity`` rows on one account, whoever asks (:func:`on_account` decides
    whether the viewer may see them). ``account_id``: a value, or a bound parameter for a statement kept and
    run for many accounts."""
    spec = rule(entity)
    model: Any = spec.model
    result: Any = query
    if spec.account:
        result = result.where(getattr(model, spec.account) == account_id)
    elif spec.parent:
        column, parent_entity = spec.parent
        parent: Any = rule(parent_entity).model
        parent_account = rule(parent_entity).account
        assert parent_account, f"{entity} is not reached through an account"
        result = result.where(
            getattr(model, column).in_(select(parent.id).where(getattr(parent, parent_account) == account_id))
        )
    else:
        raise ValueError(f"{entity} rows do not belong to an account")
    if issubclass(model, SoftDeleteMixin):
        result = result.where(model.deleted_at.is_(None))
    return cast(SelectT, result)


def sees_on_account(session: Session, viewer: Viewer, entity: str, account_id: int) -> bool:
    """Whether ``viewer`` sees the ``entity`` rows on an account: when they may see that account, every such
    row is theirs to see (the account rule of DESIGN.md §3), so the full scope need not be worked out again.
    """
    key = _visible_account_key(viewer, account_id)
    if key not in session.info:  # asked once per page and session, not once per section
        session.info[key] = is_visible(session, viewer, "accounts", account_id)
    return rule(entity).can_read(viewer.role) and bool(session.info[key])


def on_account(session: Session, query: SelectT, viewer: Viewer, entity: str, account_id: int) -> SelectT:
    """Limit ``query`` to the ``entity`` rows on one account that ``viewer`` sees (:func:`sees_on_account`)."""
    result = account_rows(query, entity, account_id)
    if not sees_on_account(session, viewer, entity, account_id):
        return cast(SelectT, result.where(false()))
    return result


def _visible_account_key(viewer: Viewer, account_id: int) -> tuple[str, int, int]:
    return ("visible_account", viewer.id, account_id)


def get_visible(session: Session, viewer: Viewer, entity: str, record_id: int) -> Any:
    """The record ``entity`` #``record_id`` if ``viewer`` may see it, else NotFoundError (a 404)."""
    statement = _by_key(entity, True, viewer.role, viewer.id, viewer.department_tree)
    record = session.scalar(statement, {"record_id": record_id})
    if record is None:
        raise NotFoundError(f"{entity.replace('_', ' ')} #{record_id} was not found")
    if entity == "accounts":  # what on_account would ask next, already answered
        session.info[_visible_account_key(viewer, record_id)] = True
    return record


def is_visible(session: Session, viewer: Viewer, entity: str, record_id: int) -> bool:
    statement = _by_key(entity, False, viewer.role, viewer.id, viewer.department_tree)
    return session.scalar(statement, {"record_id": record_id}) is not None


@lru_cache(maxsize=4096)
def _by_key(entity: str, whole: bool, role: str, user_id: int, department_tree: tuple[int, ...]) -> Select[Any]:
    """The record (``whole``) or its id, by the key ``record_id``, if the person may see it — built once per person
    and entity, as :func:`_scope_parts`: building a statement and its cache key costs more than running it."""
    viewer = Viewer(id=user_id, role=role, department_id=None, department_tree=department_tree)
    model: Any = rule(entity).model
    key = model.id == bindparam("record_id", type_=Integer())
    return restrict(select(model if whole else model.id).where(key), viewer, entity, one_row=True)


def require_write(session: Session, viewer: Viewer, entity: str, record: Base | None = None) -> None:
    """Refuse (403) a change by a role that may only read ``entity``, or on a read-only shared account."""
    spec = rule(entity)
    if not spec.can_read(viewer.role):
        raise NotFoundError(f"no such kind of record: {entity}")
    if viewer.role not in spec.write:
        raise PermissionDeniedError(f"your role ({viewer.role.replace('_', ' ')}) may not change {entity}")
    if record is not None and entity == "accounts" and viewer.role in SCOPED:
        account: Any = record
        if account.owner_id != viewer.id and not _manager_covers(session, viewer, account):
            share = session.scalar(
                select(AccountShare.can_edit).where(
                    AccountShare.account_id == account.id, AccountShare.user_id == viewer.id
                )
            )
            if share is False:
                raise PermissionDeniedError("this account is shared with you read-only")


def _manager_covers(session: Session, viewer: Viewer, account: Any) -> bool:
    if viewer.role != MANAGER or not viewer.department_tree:
        return False
    if account.department_id in viewer.department_tree:
        return True
    owner_dept = session.scalar(select(User.department_id).where(User.id == account.owner_id))
    return owner_dept in viewer.department_tree


def assignable_owner(session: Session, viewer: Viewer, owner_id: int | None) -> int | None:
    """The owner a new or edited record may get: reps own what they create; managers assign in their tree."""
    if viewer.role in FIELD_ROLES or viewer.role == MARKETING:
        return viewer.id
    if owner_id is None:
        return viewer.id
    user = session.get(User, owner_id)
    if user is None or user.deleted_at is not None:
        raise ValidationError("unknown owner", {"owner_id": "unknown user"})
    if viewer.role == MANAGER and user.id != viewer.id and user.department_id not in viewer.department_tree:
        raise ValidationError(
            "a manager can assign records only to people of their department",
            {"owner_id": "not in your department"},
        )
    return owner_id


def readable_entities(viewer: Viewer, entities: Iterable[str]) -> list[str]:
    return [e for e in entities if can_read(viewer, e)]
