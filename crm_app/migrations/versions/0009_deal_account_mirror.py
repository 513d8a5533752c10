"""Each deal carries its account's owner and department, kept by the database, for a manager's board.

A manager sees a deal when it is theirs or their department's, or when they see its account
(crm_app.services.visibility). Their board checks each deal on the board (~15,000 in the demo data for 100k
customers) against sets worked out once per statement (migration 0008); the set of accounts they see was the
costly one: ~27,700 ids gathered from two index ranges for every request, then each deal probed against it.

- ``opportunities.account_owner_id`` and ``opportunities.account_department_id`` mirror the owner and department
  of the deal's account while the account is live (NULL once it is soft-deleted: a deleted account is no reason
  to see anything). A deal's account then counts as seen from the deal's own row, tested against the same small
  sets as the deal's own owner and department (``Rule.account_mirror``).
- Triggers keep them, whoever writes (the app, imports, the demo loader, a database console): when a deal is
  inserted or moved to another account, and when an account's owner, department or deletion changes. They are
  not the app's to set, and the raw layer of the warehouse does not copy them (ingest.extract: they change
  without the deal's ``updated_at``).
- ``ix_opportunities_board`` gains both after its scope columns: the manager's board still reads and checks its
  deals from the index alone.

100k customers, the demo's manager, the board's statement timed in the app (the same data and machine, whose
benchmarks/machine.py calibration loop takes ~200 ms): SQLite 31.9 -> 12.0 ms, PostgreSQL 24.7 -> 9.0 ms (with
the two ranges no longer materialised first; migration 0010 then moved the board to kept totals).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOARD_COLUMNS = ["stage_id", "deleted_at", "closed_date", "amount", "owner_id", "department_id", "account_id"]
MIRROR = ["account_owner_id", "account_department_id"]

# the live account's owner and department, for the deal row ``deal`` (a table name or NEW); none when it is deleted
_LIVE_ACCOUNT = "FROM accounts a WHERE a.id = {deal}.account_id AND a.deleted_at IS NULL"
# both mirror columns from one look-up of the account (SQLite and PostgreSQL both take a row value here)
_SET_MIRROR = (
    "UPDATE opportunities SET (account_owner_id, account_department_id) = "
    "(SELECT a.owner_id, a.department_id {live}) WHERE {where}"
)
# an account change that changes what its deals mirror
_ACCOUNT_CHANGED = (
    "OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.department_id IS DISTINCT FROM NEW.department_id "
    "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
)
_TO_DEALS = (
    "UPDATE opportunities SET account_owner_id = CASE WHEN NEW.deleted_at IS NULL THEN NEW.owner_id END, "
    "account_department_id = CASE WHEN NEW.deleted_at IS NULL THEN NEW.department_id END "
    "WHERE account_id = NEW.id"
)

POSTGRESQL_UP = [
    f"""CREATE FUNCTION opportunities_mirror_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- no live account: both NULL (SELECT INTO without STRICT)
    SELECT a.owner_id, a.department_id INTO NEW.account_owner_id, NEW.account_department_id
    {_LIVE_ACCOUNT.format(deal="NEW")};
    RETURN NEW;
END $$""",
    "CREATE TRIGGER opportunities_mirror_account BEFORE INSERT OR UPDATE OF account_id ON opportunities "
    "FOR EACH ROW EXECUTE FUNCTION opportunities_mirror_account()",
    f"""CREATE FUNCTION accounts_mirror_to_opportunities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_TO_DEALS};
    RETURN NULL;
END $$""",
    "CREATE TRIGGER accounts_mirror_to_opportunities AFTER UPDATE OF owner_id, department_id, deleted_at "
    f"ON accounts FOR EACH ROW WHEN ({_ACCOUNT_CHANGED}) EXECUTE FUNCTION accounts_mirror_to_opportunities()",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER accounts_mirror_to_opportunities ON accounts",
    "DROP FUNCTION accounts_mirror_to_opportunities()",
    "DROP TRIGGER opportunities_mirror_account ON opportunities",
    "DROP FUNCTION opportunities_mirror_account()",
]

# SQLite's triggers cannot set NEW: the inserted or moved deal is updated after the fact
_SQLITE_SET_DEAL = _SET_MIRROR.format(live=_LIVE_ACCOUNT.format(deal="NEW"), where="id = NEW.id")
SQLITE_UP = [
    f"CREATE TRIGGER opportunities_mirror_account_insert AFTER INSERT ON opportunities BEGIN {_SQLITE_SET_DEAL}; END",
    "CREATE TRIGGER opportunities_mirror_account_update AFTER UPDATE OF account_id ON opportunities "
    f"BEGIN {_SQLITE_SET_DEAL}; END",
    "CREATE TRIGGER accounts_mirror_to_opportunities AFTER UPDATE OF owner_id, department_id, deleted_at "
    f"ON accounts WHEN {_ACCOUNT_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {_TO_DEALS}; END",
]
SQLITE_DOWN = [
    "DROP TRIGGER accounts_mirror_to_opportunities",
    "DROP TRIGGER opportunities_mirror_account_update",
    "DROP TRIGGER opportunities_mirror_account_insert",
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for column in MIRROR:
        op.add_column("opportunities", sa.Column(column, sa.Integer(), nullable=True))
    op.execute(_SET_MIRROR.format(live=_LIVE_ACCOUNT.format(deal="opportunities"), where="TRUE"))
    for statement in POSTGRESQL_UP if _postgresql() else SQLITE_UP:
        op.execute(statement)
    op.drop_index("ix_opportunities_board", table_name="opportunities")
    op.create_index(
        "ix_opportunities_board", "opportunities", [*BOARD_COLUMNS, *MIRROR], unique=False, postgresql_include=["id"]
    )
    if _postgresql():
        op.execute("ANALYZE opportunities")


def downgrade() -> None:
    op.drop_index("ix_opportunities_board", table_name="opportunities")
    op.create_index("ix_opportunities_board", "opportunities", BOARD_COLUMNS, unique=False, postgresql_include=["id"])
    for statement in POSTGRESQL_DOWN if _postgresql() else SQLITE_DOWN:
        op.execute(statement)
    with op.batch_alter_table("opportunities") as batch:
        for column in reversed(MIRROR):
            batch.drop_column(column)
