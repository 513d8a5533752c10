"""Finer PostgreSQL statistics on the account search indexes (no table, row or index changes).

The account list's search is a range on ``lower(name)`` (and ``lower(external_ref)``): ``>= 'lumen' AND <
'lumeo'``. With the default statistics target (100 histogram buckets) PostgreSQL estimated such a prefix of a
common first word at one row where 1.7 % of the accounts match (1,716 of 100,000). Believing one row, it
checked a sales rep's visibility (``id IN (owned UNION ALL shared)``) by re-running that union for every
match: 325 ms instead of 3 ms, and seconds at the 95th percentile under load. A target of 1,000 buckets on
the two expressions gives estimates of the right size, and the planner hashes the visible ids once.
SQLite has no such setting (its planner does not use a histogram here): nothing to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_INDEXES = ("ix_accounts_name_lower", "ix_accounts_external_ref_lower")
TARGET = 1000


def _set_target(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in SEARCH_INDEXES:
        # column 1 of each index is the lower(...) expression
        op.execute(f"ALTER INDEX {index} ALTER COLUMN 1 SET STATISTICS {target}")
    op.execute("ANALYZE accounts")


def upgrade() -> None:
    _set_target(TARGET)


def downgrade() -> None:
    _set_target(-1)
