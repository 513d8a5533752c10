"""A manager's pipeline board and account search read from indexes (no table, row or constraint changes).

A manager sees their department tree (crm_app.services.visibility): in the demo data for 100k customers ~13,800
accounts and ~11,200 deals. Their board now checks each deal on the board (~15,000) against sets worked out once
per statement — their department's people, the accounts they see — instead of gathering the ~11,200 deals first
(``visibility.scope_on``).

- ``ix_opportunities_board`` gains the scope columns ``owner_id``, ``department_id``, ``account_id`` after its
  ``(stage_id, deleted_at, closed_date, amount)``, and on PostgreSQL INCLUDEs ``id``: the board's deals are read
  and checked from the index alone (the ~140 cards shown are then read by id). Its leading columns are unchanged,
  so the per-stage counts and sums of migration 0004 still read it alone.
- ``ix_accounts_department_id_name_lower`` on ``(department_id, deleted_at, lower(name))``, INCLUDing ``id`` and
  ``name`` on PostgreSQL, replaces ``ix_accounts_department_id``: the department's live accounts (a part of the
  visible accounts) are one index range read alone, and those whose name starts with a search one narrower range
  (``restrict(..., narrow=...)``), like ``ix_accounts_owner_id_name_lower`` (migration 0007) for their owners. Its
  ``lower(name)`` gets 1,000 histogram buckets on PostgreSQL, as that index's does, for the same reason.

PostgreSQL, 100k customers, the demo's manager, median of the board's statement timed in the app: 176 -> 20 ms,
plus 1.6 ms reading the ~140 cards shown by id (on a machine whose benchmarks/machine.py calibration loop takes
~200 ms).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_STATISTICS = 1000  # as 0005_search_statistics.TARGET
BOARD_KEY = ["stage_id", "deleted_at", "closed_date", "amount"]


def upgrade() -> None:
    op.drop_index("ix_opportunities_board", table_name="opportunities")
    op.create_index(
        "ix_opportunities_board",
        "opportunities",
        [*BOARD_KEY, "owner_id", "department_id", "account_id"],
        unique=False,
        postgresql_include=["id"],
    )
    op.create_index(
        "ix_accounts_department_id_name_lower",
        "accounts",
        ["department_id", "deleted_at", sa.text("lower(name)")],
        unique=False,
        postgresql_include=["id", "name"],
    )
    op.drop_index("ix_accounts_department_id", table_name="accounts")
    if op.get_bind().dialect.name == "postgresql":
        # column 3 is the lower(name) expression (see 0005_search_statistics)
        op.execute(
            f"ALTER INDEX ix_accounts_department_id_name_lower ALTER COLUMN 3 SET STATISTICS {SEARCH_STATISTICS}"
        )
        op.execute("ANALYZE accounts")
        op.execute("ANALYZE opportunities")


def downgrade() -> None:
    op.create_index("ix_accounts_department_id", "accounts", ["department_id"], unique=False)
    op.drop_index("ix_accounts_department_id_name_lower", table_name="accounts")
    op.drop_index("ix_opportunities_board", table_name="opportunities")
    op.create_index("ix_opportunities_board", "opportunities", BOARD_KEY, unique=False)
