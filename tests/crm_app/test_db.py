"""How a web request's session ends: reads keep PostgreSQL's prepared statements, writes are never committed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_app.db import AmongIds, end_request_session, make_engine, plan_for_any_value
from crm_app.models import Account
from crm_app.web.deps import current_viewer, password_fingerprint
from tests import factories


def _accounts(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Account.name).order_by(Account.name)))


def test_a_session_that_only_read_ends_with_a_commit(engine: Engine) -> None:
    session = Session(engine)
    session.scalar(select(func.count()).select_from(Account))
    assert session.in_transaction()
    end_request_session(session)
    assert not session.in_transaction()


@pytest.mark.parametrize("how", ["flushed", "pending", "statement"])
def test_what_a_request_wrote_and_did_not_commit_is_rolled_back(engine: Engine, how: str) -> None:
    with Session(engine) as setup:
        factories.account(setup, name="Before")
        setup.commit()
    session = Session(engine)
    record = session.scalars(select(Account)).one()
    if how == "flushed":
        record.name = "Flushed"
        session.flush()
    elif how == "pending":
        record.name = "Pending"  # changed, not even flushed
    else:
        session.execute(update(Account).values(name="Statement"))
    end_request_session(session)
    assert _accounts(engine) == ["Before"]


def test_reads_after_a_committed_write_end_without_committing_anything_else(engine: Engine) -> None:
    with Session(engine) as setup:
        factories.account(setup, name="Before")
        setup.commit()
    session = Session(engine)
    record = session.scalars(select(Account)).one()
    record.name = "Saved"
    session.commit()
    record.name = "Unsaved"
    session.flush()
    end_request_session(session)
    assert _accounts(engine) == ["Saved"]


def test_postgresql_keeps_prepared_statements_across_read_only_requests(db_url: str, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("prepared statements are a PostgreSQL (psycopg) matter")
    engine = make_engine(db_url, pool_size=1, max_overflow=0)  # every request on the same connection
    try:
        for _ in range(8):  # psycopg prepares a statement from its 5th execution on a connection
            session = Session(engine)
            session.scalar(select(func.count()).select_from(Account).where(Account.name == "x"))
            end_request_session(session)
        with engine.connect() as conn:
            prepared = conn.execute(text("select statement from pg_prepared_statements")).scalars().all()
        assert any("FROM accounts" in statement for statement in prepared), prepared
    finally:
        engine.dispose()


def test_postgresql_plans_a_scoped_viewers_statements_once_for_the_request_only(db_url: str, backend: str) -> None:
    """A rep's or manager's request asks PostgreSQL for one plan per prepared statement, for any values
    (``plan_for_any_value``): only until its transaction ends, so the next request on that connection (an admin's,
    whose search must be planned for its words) plans as before; and the request still counts as read-only, so its
    prepared statements are kept."""
    if backend != "postgresql":
        pytest.skip("plan caching is a PostgreSQL matter")
    engine = make_engine(db_url, pool_size=1, max_overflow=0)  # both requests on the same connection
    try:
        session = Session(engine)
        plan_for_any_value(session)
        assert session.scalar(text("select current_setting('plan_cache_mode')")) == "force_generic_plan"
        end_request_session(session)
        for _ in range(6):
            session = Session(engine)
            plan_for_any_value(session)
            session.scalar(select(func.count()).select_from(Account).where(Account.name == "x"))
            end_request_session(session)
        with engine.connect() as conn:
            assert conn.scalar(text("select current_setting('plan_cache_mode')")) == "auto"
            prepared = conn.execute(text("select statement from pg_prepared_statements")).scalars().all()
        assert any("FROM accounts" in statement for statement in prepared), prepared
    finally:
        engine.dispose()


def test_signing_in_is_one_statement_with_the_managers_tree_and_plan_mode(db_url: str, backend: str) -> None:
    """Signing in reads the user in one statement, a manager's department tree (their department, then those
    under it, however deep) included. On PostgreSQL the same statement has a rep's or manager's statements
    planned for any value (as ``plan_for_any_value``) and leaves an admin's as they are."""
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    try:
        with Session(engine) as setup:
            top = factories.department(setup)
            child = factories.department(setup, parent_id=top.id)
            grandchild = factories.department(setup, parent_id=child.id)
            factories.department(setup)  # beside the tree
            users = {
                "sales_rep": factories.user(setup, role="sales_rep", department_id=child.id),
                "admin": factories.user(setup, role="admin"),
                "manager": factories.user(setup, role="manager", department_id=top.id),
            }
            setup.commit()
            ids = {role: user.id for role, user in users.items()}
            fingerprints = {role: password_fingerprint(user) for role, user in users.items()}
            trees = {"sales_rep": (), "admin": (), "manager": (top.id, *sorted((child.id, grandchild.id)))}
        statements: list[str] = []

        def remember(*args: object) -> None:
            statements.append(str(args[2]))

        for role, expected in (
            ("sales_rep", "force_generic_plan"),
            ("admin", "auto"),
            ("manager", "force_generic_plan"),
        ):
            request = SimpleNamespace(session={"uid": ids[role], "pwf": fingerprints[role]}, state=SimpleNamespace())
            session = Session(engine)
            statements.clear()
            event.listen(engine, "before_cursor_execute", remember)
            try:
                viewer = current_viewer(request, session)  # type: ignore[arg-type]
            finally:
                event.remove(engine, "before_cursor_execute", remember)
            assert viewer.id == ids[role] and viewer.role == role and request.state.viewer == viewer
            assert viewer.department_tree == trees[role], role
            assert len(statements) == 1, statements
            if backend == "postgresql":
                assert session.scalar(text("select current_setting('plan_cache_mode')")) == expected, role
            end_request_session(session)
    finally:
        engine.dispose()


def test_among_ids_finds_the_listed_rows_with_one_statement_text_for_any_number(db_url: str, backend: str) -> None:
    """``AmongIds``: the rows whose key is in the list, none for an empty list; one statement text whatever the
    list's length (an expanding IN writes a new text per length), which on PostgreSQL psycopg prepares once."""
    engine = make_engine(db_url, pool_size=1, max_overflow=0)  # every request on the same connection
    try:
        with Session(engine) as setup:
            ids = [factories.account(setup, name=f"Among {i}").id for i in range(6)]
            setup.commit()
        statement = select(Account.name).where(AmongIds(Account.id, "ids")).order_by(Account.name)
        texts: set[str] = set()

        def remember(conn, cursor, sql, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
            texts.add(sql)

        event.listen(engine, "before_cursor_execute", remember)
        for wanted in (ids[:1], ids[1:4], ids, [], ids[::2], [ids[0], 2**31 - 1], ids[:1], ids[1:4]):
            session = Session(engine)
            names = list(session.scalars(statement, {"ids": wanted}))
            assert names == sorted(f"Among {ids.index(i)}" for i in wanted if i in ids), wanted
            end_request_session(session)
        event.remove(engine, "before_cursor_execute", remember)
        assert len(texts) == 1, texts
        if backend == "postgresql":
            with engine.connect() as conn:
                prepared = conn.execute(text("select statement from pg_prepared_statements")).scalars().all()
            assert any("ANY" in p and "FROM accounts" in p for p in prepared), prepared
    finally:
        engine.dispose()
