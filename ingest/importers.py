"""Data in: `crm import accounts|orders FILE` — a CSV or .xlsx file checked whole, then imported in one go.

Every row is validated before anything is written; a file with any problem raises ImportRejected
listing them all (row and column each) and changes nothing. Importing the same file again changes
nothing either: rows are matched to what an earlier import wrote by their keys.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from ingest.importing.accounts import account_columns, custom_fields, import_accounts
from ingest.importing.common import ImportResult
from ingest.importing.orders import ORDER_COLUMNS, import_orders
from ingest.importing.problems import ImportRejected, Problem, Problems
from ingest.importing.tables import read_table

IMPORT_KINDS = ("accounts", "orders")

__all__ = ["IMPORT_KINDS", "ImportRejected", "ImportResult", "Problem", "import_file"]


def import_file(session: Session, kind: str, path: Path | str, dry_run: bool = False) -> ImportResult:
    """Import ``path`` as ``kind`` ("accounts" or "orders") within ``session``'s transaction.

    The caller commits. On a refused file nothing has been written; if the database refuses a write
    (a concurrent change) the session is rolled back and a ConflictError raised. With ``dry_run``
    the file is checked completely and the result says what would change, but nothing is written.
    """
    path = Path(path)
    problems = Problems(str(path))
    if kind == "orders":
        table = read_table(path, ORDER_COLUMNS, problems)
        return import_orders(session, table, problems, path.name, dry_run)
    if kind == "accounts":
        fields = custom_fields(session)
        table = read_table(path, account_columns(fields), problems)
        return import_accounts(session, table, problems, fields, path.name, dry_run)
    raise ValidationError(f"cannot import {kind!r}: choose one of {', '.join(IMPORT_KINDS)}", {"kind": "unknown"})
