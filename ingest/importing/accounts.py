"""Data in (CSV/Excel import): accounts from a file — matched by key, checked whole, created or updated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_app.errors import CrmError
from crm_app.models import (
    ACCOUNT_KINDS,
    ACCOUNT_SIZES,
    ACCOUNT_TIERS,
    LIFECYCLE_STAGES,
    Account,
    CustomFieldDefinition,
    Department,
    User,
    utcnow,
)
from crm_app.services.records import update_record
from ingest.importing import cells
from ingest.importing.cells import Cell, CellError
from ingest.importing.common import ImportResult, audit_import, chunked, column_length, fetch_in, table_of, write_failed
from ingest.importing.problems import Problems
from ingest.importing.tables import Columns, Row, Table

CUSTOM_PREFIX = "custom."
CUSTOM_TEXT_LENGTH = 500  # as the app's forms allow (crm_app.services.resources)
TEXT_FIELDS = ("name", "external_ref", "industry", "region", "city", "phone", "email", "website", "address", "notes")
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "kind": ACCOUNT_KINDS,
    "lifecycle_stage": LIFECYCLE_STAGES,
    "tier": ACCOUNT_TIERS,
    "size": ACCOUNT_SIZES,
}
STANDARD_COLUMNS = Columns(
    required=("name",),
    optional=(
        "external_ref",
        "kind",
        "lifecycle_stage",
        "tier",
        "industry",
        "region",
        "city",
        "size",
        "phone",
        "email",
        "website",
        "address",
        "owner",
        "department",
        "parent_ref",
        "credit_limit",
        "notes",
    ),
)
_TABLE = table_of(Account)
_LENGTHS = {name: column_length(Account, name) for name in TEXT_FIELDS}


@dataclass(frozen=True)
class CustomField:
    name: str
    label: str
    field_type: str
    choices: tuple[str, ...]
    required: bool

    @property
    def column(self) -> str:
        return CUSTOM_PREFIX + self.name.lower()


def custom_fields(session: Session) -> dict[str, CustomField]:
    """The admin-defined custom fields of accounts, by their column name in a file (custom.<name>)."""
    definitions = session.scalars(
        select(CustomFieldDefinition)
        .where(CustomFieldDefinition.entity == "accounts", CustomFieldDefinition.deleted_at.is_(None))
        .order_by(CustomFieldDefinition.position, CustomFieldDefinition.name)
    ).all()
    fields = [CustomField(d.name, d.label, d.field_type, tuple(d.choices or ()), bool(d.required)) for d in definitions]
    return {f.column: f for f in fields}


def account_columns(fields: dict[str, CustomField]) -> Columns:
    return Columns(STANDARD_COLUMNS.required, STANDARD_COLUMNS.optional + tuple(fields))


@dataclass
class AccountRow:
    """A row of an accounts file: the values it gives (blank cells give none) and what they refer to."""

    row: int
    values: dict[str, Any] = field(default_factory=dict)  # Account columns named by non-blank cells
    custom: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    department: str | None = None
    parent_ref: str | None = None
    existing: dict[str, Any] | None = None  # the stored account this row updates, if any
    parent_row: AccountRow | None = None  # a parent created or updated by an earlier row of the file
    parent_id: int | None = None  # a parent stored already and not in the file
    new_id: int | None = None

    @property
    def external_ref(self) -> str | None:
        return self.values.get("external_ref")

    @property
    def kind(self) -> str:
        """The kind the account has after the import."""
        if "kind" in self.values:
            return str(self.values["kind"])
        return str(self.existing["kind"]) if self.existing else "customer"

    @property
    def account_id(self) -> int | None:
        return self.existing["id"] if self.existing else self.new_id

    @property
    def parent_account_id(self) -> int | None:
        """The parent's id (None while a parent created by this import is not written yet)."""
        return self.parent_row.account_id if self.parent_row is not None else self.parent_id

    @property
    def parent_changes(self) -> bool:
        if self.parent_row is None and self.parent_id is None:
            return False
        stored = self.existing.get("parent_id") if self.existing else None
        return self.parent_account_id is None or self.parent_account_id != stored


def import_accounts(
    session: Session,
    table: Table,
    problems: Problems,
    fields: dict[str, CustomField],
    file_name: str,
    dry_run: bool,
) -> ImportResult:
    """Check every row of ``table``; raise ImportRejected listing all problems, else create/update all."""
    rows = [_parse(row, problems, fields) for row in table.rows]
    _match(session, rows, problems)
    users = _users(session, rows, problems)
    departments = _departments(session, rows, problems)
    _resolve_parents(session, rows, problems)
    _check_required_custom(rows, fields, problems, table.columns)
    problems.raise_if_any()

    creates: list[AccountRow] = []
    updates: list[tuple[AccountRow, dict[str, Any]]] = []
    for row in rows:
        if row.existing is None:
            creates.append(row)
            continue
        stored = row.existing
        changes = {k: v for k, v in _given_values(row, users, departments).items() if _differs(stored.get(k), v)}
        if changes or row.parent_changes:
            updates.append((row, changes))
    result = ImportResult(
        entity="accounts",
        source=file_name,
        rows=len(rows),
        created=len(creates),
        updated=len(updates),
        unchanged=len(rows) - len(creates) - len(updates),
        dry_run=dry_run,
    )
    if dry_run or not result.changed:
        return result
    try:
        _create(session, creates, users, departments)
        _update(session, updates)
        audit_import(
            session,
            "accounts",
            file_name,
            {"rows": result.rows, "created": result.created, "updated": result.updated, "unchanged": result.unchanged},
        )
        session.flush()
    except IntegrityError as exc:
        raise write_failed(session, file_name, exc) from None
    except CrmError:
        session.rollback()  # e.g. a stale version: the rows written so far must go too
        raise
    return result


# -------------------------------------------------------------------------------------------- checks


def _parse(row: Row, problems: Problems, fields: dict[str, CustomField]) -> AccountRow:
    parsed = AccountRow(row.number)

    def take(column: str, parse: Callable[[Cell], Any]) -> Any:
        try:
            return parse(row.get(column))
        except CellError as exc:
            problems.add(row.number, column, str(exc))
            return None

    for name in TEXT_FIELDS:
        value = take(name, partial(cells.text, max_length=_LENGTHS[name]))
        if value is not None:
            parsed.values[name] = value
    for name, allowed in CHOICE_FIELDS.items():
        value = take(name, partial(cells.choice, allowed=allowed))
        if value is not None:
            parsed.values[name] = value
    credit_limit = take("credit_limit", lambda v: cells.number(v, places=2, max_digits=14))
    if credit_limit is not None:
        if credit_limit < 0:
            problems.add(row.number, "credit_limit", f"{credit_limit} is negative (expected 0 or more)")
        parsed.values["credit_limit"] = credit_limit
    if "name" not in parsed.values and cells.is_blank(row.get("name")):
        problems.add(row.number, "name", "is empty: every account needs a name")
    email = parsed.values.get("email")
    if email is not None:
        try:
            # stored normalised, as the app's forms store it, so a re-import compares equal
            parsed.values["email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problems.add(row.number, "email", f"{email!r} is not a valid email address ({exc})")
    parsed.owner = take("owner", cells.text)
    parsed.department = take("department", cells.text)
    parsed.parent_ref = take("parent_ref", lambda v: cells.text(v, _LENGTHS["external_ref"]))
    for column, custom in fields.items():
        value = take(column, partial(_custom_value, custom=custom))
        if value is not None:
            parsed.custom[custom.name] = value
    return parsed


def _custom_value(value: Cell, custom: CustomField) -> Any:
    """A custom field's value as stored in the ``custom`` JSON (dates as ISO text)."""
    if custom.field_type == "number":
        number = cells.number(value, places=6, max_digits=21)
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if custom.field_type == "date":
        date = cells.date(value)
        return date.isoformat() if date else None
    if custom.field_type == "boolean":
        return cells.boolean(value)
    if custom.field_type == "choice":
        return cells.choice(value, custom.choices)
    return cells.text(value, CUSTOM_TEXT_LENGTH)


def _account_rows(session: Session, where: Callable[[Any], Any], keys: list[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in fetch_in(session, lambda chunk: select(_TABLE).where(where(chunk)), keys)]


def _match(session: Session, rows: list[AccountRow], problems: Problems) -> None:
    """Find the stored account each row updates: by external_ref, else by (kind, exact name)."""
    by_ref: dict[str, AccountRow] = {}
    by_name: dict[tuple[str, str], AccountRow] = {}
    for row in rows:
        ref = row.external_ref
        if ref is not None:
            if ref in by_ref:
                problems.add(row.row, "external_ref", f"{ref!r} is also the external_ref of row {by_ref[ref].row}")
            by_ref.setdefault(ref, row)
        elif "name" in row.values:
            key = (row.kind, row.values["name"])
            if key in by_name:
                problems.add(
                    row.row,
                    "name",
                    f"{key[0]} {key[1]!r} is also on row {by_name[key].row}; give the rows an external_ref "
                    "to tell the accounts apart",
                )
            by_name.setdefault(key, row)

    stored_by_ref = {a["external_ref"]: a for a in _account_rows(session, _TABLE.c.external_ref.in_, list(by_ref))}
    for ref, row in by_ref.items():
        found = stored_by_ref.get(ref)
        if found is not None and found["deleted_at"] is not None:
            message = f"{ref!r} belongs to account {found['name']!r}, which was deleted; restore it first"
            problems.add(row.row, "external_ref", message)
        elif found is not None:
            row.existing = found

    names = list(dict.fromkeys(name for _, name in by_name))
    stored_by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for account in _account_rows(session, _TABLE.c.name.in_, names):
        if account["deleted_at"] is None:
            stored_by_name.setdefault((account["kind"], account["name"]), []).append(account)
    for key, row in by_name.items():
        found_all = stored_by_name.get(key, [])
        if len(found_all) > 1:
            problems.add(
                row.row,
                "name",
                f"{len(found_all)} {key[0]} accounts are named {key[1]!r}; add an external_ref column to say which",
            )
        elif found_all:
            row.existing = found_all[0]

    updated_by: dict[int, int] = {}
    for row in rows:
        if row.existing is not None:
            other = updated_by.setdefault(row.existing["id"], row.row)
            if other != row.row:
                problems.add(row.row, "", f"updates the same account ({row.existing['name']!r}) as row {other}")


@dataclass(frozen=True)
class _User:
    id: int
    department_id: int | None


def _users(session: Session, rows: list[AccountRow], problems: Problems) -> dict[str, _User]:
    names = list(dict.fromkeys(row.owner for row in rows if row.owner))
    stored = fetch_in(
        session,
        lambda chunk: select(User.username, User.id, User.department_id).where(
            User.username.in_(chunk), User.deleted_at.is_(None)
        ),
        names,
    )
    users = {username: _User(id, department_id) for username, id, department_id in stored}
    for row in rows:
        if row.owner and row.owner not in users:
            problems.add(row.row, "owner", f"no user is named {row.owner!r}")
    return users


def _departments(session: Session, rows: list[AccountRow], problems: Problems) -> dict[str, int]:
    """Department id by code, or by name (as `crm users add --department` accepts either)."""
    if not any(row.department for row in rows):
        return {}
    stored = session.execute(
        select(Department.code, Department.name, Department.id).where(Department.deleted_at.is_(None))
    ).all()
    by_key = {name: id for _, name, id in stored}
    by_key.update({code: id for code, _, id in stored})
    for row in rows:
        if row.department and row.department not in by_key:
            problems.add(row.row, "department", f"no department has the code or name {row.department!r}")
    return by_key


def _resolve_parents(session: Session, rows: list[AccountRow], problems: Problems) -> None:
    """A parent is a partner: stored already, or created by an earlier row of the same file."""
    in_file = {row.external_ref: row for row in reversed(rows) if row.external_ref}  # first row wins
    wanted = list(dict.fromkeys(row.parent_ref for row in rows if row.parent_ref and row.parent_ref not in in_file))
    stored = {a["external_ref"]: a for a in _account_rows(session, _TABLE.c.external_ref.in_, wanted)}
    for row in rows:
        ref = row.parent_ref
        if ref is None:
            continue
        parent_row = in_file.get(ref)
        if ref == row.external_ref:
            problems.add(row.row, "parent_ref", "an account cannot be its own parent")
        elif parent_row is not None:
            if parent_row.row > row.row and parent_row.existing is None:
                problems.add(
                    row.row,
                    "parent_ref",
                    f"{ref!r} is defined on row {parent_row.row}, after this row; "
                    "list parent partners before the accounts that belong to them",
                )
            elif parent_row.kind != "partner":
                message = f"{ref!r} (row {parent_row.row}) is a {parent_row.kind}, not a partner"
                problems.add(row.row, "parent_ref", message)
            else:
                row.parent_row = parent_row
        else:
            found = stored.get(ref)
            if found is None or found["deleted_at"] is not None:
                message = f"no partner has external_ref {ref!r} (in the database or earlier in this file)"
                problems.add(row.row, "parent_ref", message)
            elif found["kind"] != "partner":
                problems.add(row.row, "parent_ref", f"{ref!r} is {found['kind']} {found['name']!r}, not a partner")
            else:
                row.parent_id = found["id"]


def _check_required_custom(
    rows: list[AccountRow], fields: dict[str, CustomField], problems: Problems, columns: tuple[str, ...]
) -> None:
    required = [f for f in fields.values() if f.required]
    for row in rows:
        for custom in required:
            has_value = custom.name in row.custom or (
                row.existing is not None and (row.existing.get("custom") or {}).get(custom.name) not in (None, "")
            )
            if not has_value and (custom.column in columns or row.existing is None):
                problems.add(row.row, custom.column, f"is empty: the custom field {custom.label!r} is required")


# --------------------------------------------------------------------------------------------- write


def _given_values(row: AccountRow, users: dict[str, _User], departments: dict[str, int]) -> dict[str, Any]:
    """The column values a row sets, parent aside (a blank cell leaves its column alone)."""
    values = dict(row.values)
    if row.owner:
        values["owner_id"] = users[row.owner].id
    if row.department:
        values["department_id"] = departments[row.department]
    if row.custom:
        stored = dict(row.existing.get("custom") or {}) if row.existing else {}
        values["custom"] = {**stored, **row.custom}
    return values


def _differs(stored: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and stored is not None:
        return Decimal(stored) != new
    return bool(stored != new)


def _create(session: Session, creates: list[AccountRow], users: dict[str, _User], departments: dict[str, int]) -> None:
    """Bulk insert (Core, in file order); parents created by this same import are linked afterwards."""
    if not creates:
        return
    now = utcnow()
    blank = dict.fromkeys((*TEXT_FIELDS, *CHOICE_FIELDS, "credit_limit"))
    payload = []
    for row in creates:
        owner = users[row.owner] if row.owner else None
        # an account without a department belongs where its owner works
        department_id = departments[row.department] if row.department else (owner.department_id if owner else None)
        payload.append(
            {
                **blank,
                **row.values,
                "kind": row.kind,
                "source": "import",
                "custom": dict(row.custom),
                "owner_id": owner.id if owner else None,
                "department_id": department_id,
                "parent_id": row.parent_account_id,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    inserted = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
    ids: list[int] = list(session.execute(inserted, payload).scalars())
    for row, account_id in zip(creates, ids, strict=True):
        row.new_id = account_id
    late = [
        {"account": row.new_id, "parent": row.parent_account_id}
        for row in creates
        if row.parent_row is not None and row.parent_row.existing is None
    ]
    if late:
        session.execute(
            update(_TABLE).where(_TABLE.c.id == bindparam("account")).values(parent_id=bindparam("parent")), late
        )


def _update(session: Session, updates: list[tuple[AccountRow, dict[str, Any]]]) -> None:
    """Through the service layer: optimistic locking on the version read while checking, audit 'update'."""
    ids = [row.existing["id"] for row, _ in updates if row.existing]
    accounts: dict[int, Account] = {}
    for chunk in chunked(ids):
        accounts.update((a.id, a) for a in session.scalars(select(Account).where(Account.id.in_(chunk))))
    for row, changes in updates:
        assert row.existing is not None
        values = dict(changes)
        if row.parent_changes:
            values["parent_id"] = row.parent_account_id
        update_record(session, accounts[row.existing["id"]], values, None, expected_version=row.existing["version"])
