"""The account search finds accounts by the start of their city too (an index; no table or row changes).

The account list's search tries "starts with" first, along an index on ``lower(column)`` per column, and falls
back to "contains" only when nothing starts with the text. The search box offers name, city and e-mail, but
only the name and the reference had such an index: a search for a city ("Dresden") found no name starting
with it and went to "contains", which reads every account the viewer sees (PostgreSQL and SQLite, 100k
accounts: ~70 ms for the admin, ~95 ms for a manager, for one request).

``ix_accounts_city_lower`` on ``(lower(city), deleted_at)`` makes the city a third "starts with" column
(crm_app.services.registry), like ``ix_accounts_external_ref_lower`` (migration 0004). On PostgreSQL its
expression gets the finer statistics of the other search indexes (migration 0005). ``ix_accounts_city``, on the
city as stored, serves a search with letters beyond ASCII ("Köln"), which looks for the start as typed and
capitalised rather than lowered, as it does on the name and the reference (their plain indexes): without it such
a search read every account.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_STATISTICS = 1000  # as 0005_search_statistics.TARGET


def upgrade() -> None:
    op.create_index("ix_accounts_city_lower", "accounts", [sa.text("lower(city)"), "deleted_at"], unique=False)
    op.create_index("ix_accounts_city", "accounts", ["city"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # column 1 is the lower(city) expression (see 0005_search_statistics)
        op.execute(f"ALTER INDEX ix_accounts_city_lower ALTER COLUMN 1 SET STATISTICS {SEARCH_STATISTICS}")
        op.execute("ANALYZE accounts")


def downgrade() -> None:
    op.drop_index("ix_accounts_city", table_name="accounts")
    op.drop_index("ix_accounts_city_lower", table_name="accounts")
