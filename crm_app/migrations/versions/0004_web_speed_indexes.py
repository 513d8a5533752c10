"""Indexes for the web app's busiest pages: account search and the pipeline board.

Written by hand (autogenerate cannot reflect SQLite expression indexes) to match the ``Index`` declarations
in crm_app.models.accounts and crm_app.models.sales. Only indexes are added — no table or row changes — so
downgrade drops them again and nothing else.

- ``ix_accounts_name_lower`` / ``ix_accounts_external_ref_lower``: ``(lower(column), deleted_at)``. The
  account list's case-insensitive "starts with" search becomes one index range per column, and counting
  the live matches reads the index alone (on PostgreSQL the name index also INCLUDEs ``name``: its planner
  reads an expression index alone only when the column itself is there). Not partial: PostgreSQL gathers
  statistics on the expression of a full index only, and SQLite does not count a partial index as covering
  when the query repeats its WHERE term.
- ``ix_opportunities_board``: ``(stage_id, deleted_at, closed_date, amount)``. The board's count and sum
  per stage — every live deal of an open stage, the last 30 days by ``closed_date`` of a closed one — is
  an index-only range read instead of a visit to every deal (``deleted_at`` a key column, as above).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_accounts_name_lower",
        "accounts",
        [sa.text("lower(name)"), "deleted_at"],
        unique=False,
        postgresql_include=["name"],
    )
    op.create_index(
        "ix_accounts_external_ref_lower", "accounts", [sa.text("lower(external_ref)"), "deleted_at"], unique=False
    )
    op.create_index(
        "ix_opportunities_board",
        "opportunities",
        ["stage_id", "deleted_at", "closed_date", "amount"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_board", table_name="opportunities")
    op.drop_index("ix_accounts_external_ref_lower", table_name="accounts")
    op.drop_index("ix_accounts_name_lower", table_name="accounts")
