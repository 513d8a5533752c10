"""The Alembic schema: builds on both backends, matches the models, is reversible and idempotent."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from crm_app.migrations import current_revision, downgrade, upgrade
from crm_app.models import Base
from crm_app.models.derived import DERIVED_METADATA


def test_upgrade_builds_every_table_of_the_model(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert current_revision(engine) is not None


def test_migrated_schema_matches_the_models_exactly(engine: Engine) -> None:
    """The operational tables and the ones the database derives from them (crm_app.models.derived)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, [Base.metadata, DERIVED_METADATA])  # type: ignore[arg-type]
    assert diff == []


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    before = current_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == before


def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_constraints_have_conventional_names(engine: Engine) -> None:
    inspector = inspect(engine)
    for fk in inspector.get_foreign_keys("orders"):
        assert fk["name"] and fk["name"].startswith("fk_orders_"), fk
    uniques = {u["name"] for u in inspector.get_unique_constraints("accounts")}
    assert "uq_accounts_external_ref" in uniques


def test_timestamps_are_indexed_for_incremental_ingest(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
        assert ("updated_at",) in indexed, table.name
        assert ("created_at",) in indexed, table.name
