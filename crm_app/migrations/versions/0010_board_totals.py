"""The pipeline board's counts and amounts kept by the database, per stage, closing day and department.

The board heads each column with the count and amount of every deal in it (crm_app.web.pages.sales): ~15,000
deals in the demo data for 100k customers, summed on every request. For a manager each was also checked against
their department (the deal's owner's, its own, its account owner's, its account's): ~12 ms of PostgreSQL per board.

- ``opportunity_board_totals`` (crm_app.models.derived) holds, for the live deals, the count and amount (in
  cents, exact on both backends) per stage, closing day (none for an open deal) and those four departments: ~1,300
  rows in the demo data. The admin's board sums the rows of the board's stages; a manager's those whose
  departments meet their tree, plus the deals they see only through a shared account, read from the deals.
- Triggers keep it, whoever writes (the app, imports, the demo loader's COPY, a console):
  - a deal inserted, changed (stage, closing date, amount, owner, department, the account it mirrors, deletion)
    or deleted: its old contribution is taken off, its new one added. PostgreSQL runs one statement per
    statement with its transition tables (a bulk load adds its deals grouped); SQLite one per row. A TRUNCATE of
    the deals (PostgreSQL) empties the totals.
  - a person moved to another department: the deals they own, or whose account they own, move with them.
- ``ix_opportunities_stage_id`` becomes ``ix_opportunities_stage_id_id`` on ``(stage_id, id)``, on PostgreSQL
  INCLUDing what a manager's scope checks: a column's newest cards are one range of it read backwards, checked
  from the index alone. SQLite's index on ``stage_id`` already held the rowid (the id) after it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "opportunity_board_totals"
KEY = "stage_id, closed_on, owner_department_id, department_id, account_owner_department_id, account_department_id"
SCOPE_INCLUDE = ["deleted_at", "closed_date", "owner_id", "department_id", "account_owner_id", "account_department_id"]
# the deals' columns a change of which changes the totals
COUNTED = [
    "stage_id",
    "closed_date",
    "amount",
    "owner_id",
    "department_id",
    "account_owner_id",
    "account_department_id",
]

# the grouped changes ``{changes}`` (rows of the key, deals, cents) added to the totals
_ADD = (
    f"INSERT INTO {TABLE} ({KEY}, deals, cents) "
    f"SELECT {KEY}, SUM(deals), SUM(cents) FROM ({{changes}}) AS changes WHERE TRUE "
    "GROUP BY 1, 2, 3, 4, 5, 6 HAVING SUM(deals) <> 0 OR SUM(cents) <> 0 "
    f"ON CONFLICT ({KEY}) DO UPDATE SET deals = {TABLE}.deals + excluded.deals, "
    f"cents = {TABLE}.cents + excluded.cents"
)


def _contribution(
    deals: str, sign: str, *, date: str, cents: str, owner_dept: str = "", account_owner_dept: str = ""
) -> str:
    """The live deals ``deals`` (FROM clause, alias ``d``) as rows of the key with ``sign`` deals and cents.
    The owner's and account owner's departments are the people's current ones unless given."""
    return (
        f"SELECT d.stage_id AS stage_id, COALESCE(d.closed_date, {date}) AS closed_on, "
        f"COALESCE({owner_dept or 'owner.department_id'}, 0) AS owner_department_id, "
        "COALESCE(d.department_id, 0) AS department_id, "
        f"COALESCE({account_owner_dept or 'account_owner.department_id'}, 0) AS account_owner_department_id, "
        "COALESCE(d.account_department_id, 0) AS account_department_id, "
        f"{sign}1 AS deals, {sign}{cents.format(amount='d.amount')} AS cents "
        f"FROM {deals} LEFT JOIN users owner ON owner.id = d.owner_id "
        "LEFT JOIN users account_owner ON account_owner.id = d.account_owner_id "
        "WHERE d.deleted_at IS NULL"
    )


def _moved_person(*, date: str, cents: str) -> str:
    """For the person NEW moved from OLD's department: their deals' old contributions off, the new ones on."""
    theirs = "opportunities d"
    condition = " AND (d.owner_id = NEW.id OR d.account_owner_id = NEW.id)"
    old = _contribution(
        theirs,
        "-",
        date=date,
        cents=cents,
        owner_dept="CASE WHEN d.owner_id = NEW.id THEN OLD.department_id ELSE owner.department_id END",
        account_owner_dept="CASE WHEN d.account_owner_id = NEW.id THEN OLD.department_id "
        "ELSE account_owner.department_id END",
    )
    new = _contribution(theirs, "", date=date, cents=cents)
    return _ADD.format(changes=f"{old}{condition} UNION ALL {new}{condition}")


_PG_DATE = "DATE '0001-01-01'"
_PG_CENTS = "ROUND({amount} * 100)"

POSTGRESQL_UP = [
    f"""CREATE FUNCTION {TABLE}_from_deals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_ADD.format(changes=_contribution("added d", "", date=_PG_DATE, cents=_PG_CENTS))};
    ELSIF TG_OP = 'DELETE' THEN
        {_ADD.format(changes=_contribution("removed d", "-", date=_PG_DATE, cents=_PG_CENTS))};
    ELSE
        {
        _ADD.format(
            changes=_contribution("removed d", "-", date=_PG_DATE, cents=_PG_CENTS)
            + " UNION ALL "
            + _contribution("added d", "", date=_PG_DATE, cents=_PG_CENTS)
        )
    };
    END IF;
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON opportunities REFERENCING NEW TABLE AS added "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_from_deals()",
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE ON opportunities REFERENCING OLD TABLE AS removed "
    f"NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_from_deals()",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON opportunities REFERENCING OLD TABLE AS removed "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_from_deals()",
    f"""CREATE FUNCTION {TABLE}_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TABLE};
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON opportunities "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_emptied()",
    f"""CREATE FUNCTION {TABLE}_moved_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_moved_person(date=_PG_DATE, cents=_PG_CENTS)};
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER {TABLE}_moved_person AFTER UPDATE OF department_id ON users FOR EACH ROW "
    f"WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id) EXECUTE FUNCTION {TABLE}_moved_person()",
]
POSTGRESQL_DOWN = [
    f"DROP TRIGGER {TABLE}_moved_person ON users",
    f"DROP FUNCTION {TABLE}_moved_person()",
    f"DROP TRIGGER {TABLE}_truncate ON opportunities",
    f"DROP FUNCTION {TABLE}_emptied()",
    f"DROP TRIGGER {TABLE}_delete ON opportunities",
    f"DROP TRIGGER {TABLE}_update ON opportunities",
    f"DROP TRIGGER {TABLE}_insert ON opportunities",
    f"DROP FUNCTION {TABLE}_from_deals()",
]

_SQLITE_DATE = "'0001-01-01'"
_SQLITE_CENTS = "CAST(ROUND({amount} * 100) AS INTEGER)"
# a row trigger's OLD / NEW deal as the one row of a FROM clause, alias d
_SQLITE_ROW = (
    "(SELECT {row}.stage_id AS stage_id, {row}.closed_date AS closed_date, {row}.amount AS amount, "
    + ", ".join(
        f"{{row}}.{c} AS {c}"
        for c in ["owner_id", "department_id", "account_owner_id", "account_department_id", "deleted_at"]
    )
    + ") AS d"
)


def _sqlite_row(row: str) -> str:
    return _SQLITE_ROW.format(row=row)


_SQLITE_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in [*COUNTED, "deleted_at"])
SQLITE_UP = [
    f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON opportunities BEGIN "
    f"{_ADD.format(changes=_contribution(_sqlite_row('NEW'), '', date=_SQLITE_DATE, cents=_SQLITE_CENTS))}; END",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON opportunities BEGIN "
    f"{_ADD.format(changes=_contribution(_sqlite_row('OLD'), '-', date=_SQLITE_DATE, cents=_SQLITE_CENTS))}; END",
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF {', '.join([*COUNTED, 'deleted_at'])} ON opportunities "
    f"WHEN {_SQLITE_CHANGED} BEGIN "
    + _ADD.format(
        changes=_contribution(_sqlite_row("OLD"), "-", date=_SQLITE_DATE, cents=_SQLITE_CENTS)
        + " UNION ALL "
        + _contribution(_sqlite_row("NEW"), "", date=_SQLITE_DATE, cents=_SQLITE_CENTS)
    )
    + "; END",
    f"CREATE TRIGGER {TABLE}_moved_person AFTER UPDATE OF department_id ON users "
    f"WHEN OLD.department_id IS NOT NEW.department_id BEGIN "
    f"{_moved_person(date=_SQLITE_DATE, cents=_SQLITE_CENTS)}; END",
]
SQLITE_DOWN = [
    f"DROP TRIGGER {TABLE}_moved_person",
    f"DROP TRIGGER {TABLE}_update",
    f"DROP TRIGGER {TABLE}_delete",
    f"DROP TRIGGER {TABLE}_insert",
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("owner_department_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("account_owner_department_id", sa.Integer(), nullable=False),
        sa.Column("account_department_id", sa.Integer(), nullable=False),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY.split(", "), name=op.f(f"pk_{TABLE}")),
    )
    postgresql = _postgresql()
    date, cents = (_PG_DATE, _PG_CENTS) if postgresql else (_SQLITE_DATE, _SQLITE_CENTS)
    op.execute(_ADD.format(changes=_contribution("opportunities d", "", date=date, cents=cents)))
    for statement in POSTGRESQL_UP if postgresql else SQLITE_UP:
        op.execute(statement)
    op.create_index(
        "ix_opportunities_stage_id_id",
        "opportunities",
        ["stage_id", "id"],
        unique=False,
        postgresql_include=["account_id", *SCOPE_INCLUDE],
    )
    op.drop_index("ix_opportunities_stage_id", table_name="opportunities")
    if postgresql:
        op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    op.create_index("ix_opportunities_stage_id", "opportunities", ["stage_id"], unique=False)
    op.drop_index("ix_opportunities_stage_id_id", table_name="opportunities")
    for statement in POSTGRESQL_DOWN if _postgresql() else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table(TABLE)
