"""A sales rep's account search read from one index range (no table, row or constraint changes).

A rep's account list searches only what the rep sees (crm_app.services.visibility): ``id IN (their live
accounts UNION the accounts shared with them)``. The search condition now narrows the union's parts as well
(``restrict(..., narrow=...)``), so the rep's own part becomes ``owner_id = :me AND deleted_at IS NULL AND
lower(name) >= 'jasper' AND lower(name) < 'jaspes'``. ``ix_accounts_owner_id_name_lower``, on
``(owner_id, deleted_at, lower(name))``, answers that part with one index range. It replaces
``ix_accounts_owner_id_deleted_at`` (migration 0006): the same leading columns, so it still answers "a person's
live accounts" from the index alone. On PostgreSQL it INCLUDEs ``id`` and ``name``, because an index-only scan
on an expression also needs the column under it.

Before, the database gathered every account the viewer sees and probed each for the name. PostgreSQL, 100k
accounts: the count of a rep's matches (~320 accounts seen) 981 -> 32 buffers, 0.75 -> 0.07 ms; a manager's
search (~13,800 accounts in the department) ~190 ms of database time per page -> ~8 ms.

PostgreSQL estimates a ``lower(name)`` range from the statistics of an index on that expression, and may take
this index's: like ``ix_accounts_name_lower`` (migration 0005), its expression gets 1,000 histogram buckets. With
the default 100, a prefix of a common first word was estimated at one row (1,754 real) and a manager's search
took 3 s.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_STATISTICS = 1000  # as 0005_search_statistics.TARGET


def upgrade() -> None:
    op.create_index(
        "ix_accounts_owner_id_name_lower",
        "accounts",
        ["owner_id", "deleted_at", sa.text("lower(name)")],
        unique=False,
        postgresql_include=["id", "name"],
    )
    op.drop_index("ix_accounts_owner_id_deleted_at", table_name="accounts")
    if op.get_bind().dialect.name == "postgresql":
        # column 3 is the lower(name) expression (see 0005_search_statistics)
        op.execute(f"ALTER INDEX ix_accounts_owner_id_name_lower ALTER COLUMN 3 SET STATISTICS {SEARCH_STATISTICS}")
        op.execute("ANALYZE accounts")


def downgrade() -> None:
    op.create_index(
        "ix_accounts_owner_id_deleted_at",
        "accounts",
        ["owner_id", "deleted_at"],
        unique=False,
        postgresql_include=["id"],
    )
    op.drop_index("ix_accounts_owner_id_name_lower", table_name="accounts")
