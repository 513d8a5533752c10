"""Operational database: engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Engine, Integer, String, any_, bindparam, case, create_engine, event, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from crm_app.errors import ConfigurationError
from crm_app.settings import get_settings, validate_database_url

SQLITE_MMAP_BYTES = 1 << 30
SQLITE_CACHE_KIB = 16 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # reading speed only, same results: pages read through a memory map of the file (shared by every
    # connection through the OS page cache) instead of copied per read, a larger private page cache per
    # connection (16 MB, default 2 MB), and sorts and temporary indexes kept in memory
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute(f"PRAGMA cache_size={-SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings each backend needs (SQLite: FKs on, WAL)."""
    url = validate_database_url(url)
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    _keep_long_statements_converted()
    return create_engine(url, **kwargs)


# What psycopg keeps of a statement's conversion (its ``%(name)s`` placeholders into PostgreSQL's ``$n``): by
# default only for texts up to 4 kB with up to 50 parameters, against ORMs' ever-changing bulk INSERTs. The app's
# busiest statements are longer and built once (an account 360's sections, a manager's scoped search: 8-20 kB,
# dozens of parameters), so each request converted them again, a regular-expression pass over the whole text
# (~4 % of an account 360's CPU, measured with py-spy). Still a bounded cache (psycopg keeps the last 128).
STATEMENT_TEXT_KEPT = 64 * 1024
STATEMENT_PARAMETERS_KEPT = 1000


def _keep_long_statements_converted() -> None:
    from psycopg import _queries

    if getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", STATEMENT_TEXT_KEPT) < STATEMENT_TEXT_KEPT:
        _queries.MAX_CACHED_STATEMENT_LENGTH = STATEMENT_TEXT_KEPT
    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", STATEMENT_PARAMETERS_KEPT) < STATEMENT_PARAMETERS_KEPT:
        _queries.MAX_CACHED_STATEMENT_PARAMS = STATEMENT_PARAMETERS_KEPT


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    return make_engine(url or get_settings().sqlalchemy_url)


def check_connection(engine: Engine) -> None:
    """Raise a clear ConfigurationError when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigurationError(
            f"cannot connect to the database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from None


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


# A session marks itself when it writes: an ORM flush, or an INSERT / UPDATE / DELETE statement.
_WROTE = "crm_wrote"


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, _flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_statement(state: Any) -> None:
    if not state.is_select:
        state.session.info[_WROTE] = True


PLAN_FOR_ANY_VALUE = "select set_config('plan_cache_mode', 'force_generic_plan', true)"


def planned_for_any_value_when(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """A column that does :func:`plan_for_any_value` (PostgreSQL only) as its statement reads a row for which
    ``condition`` holds, and leaves the setting as it is otherwise: a statement that reads what tells whether the
    request needs it (the signed-in user's role) so does it without a round trip of its own."""
    setting = case((condition, "force_generic_plan"), else_=func.current_setting("plan_cache_mode"))
    return func.set_config("plan_cache_mode", setting, True)


def plan_for_any_value(session: Session) -> None:
    """Until the end of ``session``'s transaction, have PostgreSQL run its prepared statements (those psycopg
    prepares once a connection has run them 5 times) with one plan made for any parameter values, instead of
    planning them again for each request's values.

    For the statements of a viewer limited to their scope (a rep, a manager) planning cost more than running:
    a manager's account search ~3.5-4.4 ms of planning per statement, against ~3 ms of execution, with the same
    plan. Their statements are driven by the scope's own parts (an owner's, a department's rows), which fits any
    value. Not for a viewer who sees every row: the admin's search planned without its words walked the accounts
    in the page's order and took ~150 ms per page (benchmarks/bench_web.py). Does nothing on SQLite, which has no
    such planning cost. A ``set_config`` select rather than ``SET LOCAL``: it does not mark the session as written
    (see :func:`end_request_session`) and may itself be prepared.
    """
    if not is_sqlite(session):
        session.connection().exec_driver_sql(PLAN_FOR_ANY_VALUE)


class AmongIds(ColumnElement[bool]):
    """``column`` is one of the integers of the list bound to the parameter ``name``, the list sent as one value:
    the statement's text is the same whatever the list's length. An expanding ``IN (...)`` (the usual way) writes
    one placeholder per id, rewritten on every execution (~4 Python calls per id) and a new text per length, which
    PostgreSQL parses and plans again and psycopg never prepares — such as the names of a page's references, or
    the ~140 cards shown on the board. PostgreSQL: ``column = ANY(:name)``, an array. SQLite: ``column IN (SELECT
    value FROM json_each(:name))``, a JSON array. Elsewhere the expanding ``IN``.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is (not "... = 1" where booleans are integers)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column: Any, name: str) -> None:
        self.column = column
        self.name = name


@compiles(AmongIds)
def _among_ids_in(element: AmongIds, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw))


@compiles(AmongIds, "postgresql")
def _among_ids_any(element: AmongIds, compiler: Any, **kw: Any) -> str:
    ids = bindparam(element.name, type_=ARRAY(Integer()))
    return str(compiler.process(element.column == any_(ids), **kw))


@compiles(AmongIds, "sqlite")
def _among_ids_json(element: AmongIds, compiler: Any, **kw: Any) -> str:
    ids = compiler.process(bindparam(element.name, type_=JSON()), **kw)
    return f"{compiler.process(element.column, **kw)} IN (SELECT value FROM json_each({ids}))"


class joined_ids(FunctionElement[str]):
    """The integers of a column aggregated as one text, ``"3,7,9"``: PostgreSQL's ``string_agg``, elsewhere
    ``group_concat``. For a short list read along with a row (a manager's department tree with the user)."""

    type = String()
    inherit_cache = True
    name = "joined_ids"


@compiles(joined_ids)
def _joined_ids_concat(element: joined_ids, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(joined_ids, "postgresql")
def _joined_ids_string_agg(element: joined_ids, compiler: Any, **kw: Any) -> str:
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ',')"


def end_request_session(session: Session) -> None:
    """End a request's session that ran to completion (on error, just close it: that rolls back).

    A session that only read ends its transaction with COMMIT, which for reads is the same as the ROLLBACK
    ``close()`` would send, but keeps psycopg's prepared statements: a ROLLBACK makes psycopg drop them all,
    and every request would have PostgreSQL parse and plan its statements again. Anything written and not
    committed by the request is rolled back as before, never committed here.
    """
    try:
        wrote = session.info.pop(_WROTE, False)
        if session.in_transaction() and not wrote and not (session.new or session.dirty or session.deleted):
            session.commit()
    finally:
        session.close()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


__all__ = [
    "AmongIds",
    "ConfigurationError",
    "check_connection",
    "end_request_session",
    "get_engine",
    "is_sqlite",
    "joined_ids",
    "make_engine",
    "session_factory",
    "session_scope",
]
