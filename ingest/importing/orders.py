"""Data in (CSV/Excel import): sale orders from a file — every row checked first, then written in bulk."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_app.models import Account, Order, OrderLine, Product, utcnow
from crm_app.models.sales import ORDER_CHANNELS
from crm_app.services.pricing import CENT, line_amounts, money
from ingest.importing import cells
from ingest.importing.cells import Cell, CellError
from ingest.importing.common import (
    ImportResult,
    allocate_numbers,
    audit_import,
    column_length,
    fetch_in,
    table_of,
    write_failed,
)
from ingest.importing.problems import Problems
from ingest.importing.tables import Columns, Row, Table

ORDER_COLUMNS = Columns(
    required=("customer_ref", "order_date", "amount"),
    optional=("order_ref", "sku", "quantity", "unit_price", "channel"),
)
# Rows without an order_ref get this prefix + a hash of their content as external_ref, so that
# importing the same file twice recognises every order the second time.
DERIVED_REF_PREFIX = "import:"
# Imported orders are past sales (order_date is never in the future): they are done, not pending.
IMPORTED_ORDER_STATUS = "completed"
WRITE_BATCH = 10_000

REF_LENGTH = column_length(Account, "external_ref")
ORDER_REF_LENGTH = column_length(Order, "external_ref")
SKU_LENGTH = column_length(Product, "sku")
ONE = Decimal("1.000")  # the canonical form a parsed quantity has (3 decimals)

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A valid row of an orders file, with defaults applied."""

    row: int
    customer_ref: str
    order_date: dt.date
    amount: Decimal
    order_ref: str | None
    sku: str | None
    quantity: Decimal
    unit_price: Decimal
    channel: str

    def content(self) -> str:
        """The row's meaning in a canonical text (1 and 1.00 read the same) for the derived key."""
        fields = (
            self.customer_ref,
            self.order_date.isoformat(),
            str(self.amount),
            self.sku or "",
            str(self.quantity),
            str(self.unit_price),
            self.channel,
        )
        return "\x1f".join(fields)


@dataclass(frozen=True)
class _Existing:
    id: int
    number: str
    kind: str
    deleted: bool
    customer_ref: str | None
    order_date: dt.date
    amount: Decimal
    channel: str


def import_orders(session: Session, table: Table, problems: Problems, file_name: str, dry_run: bool) -> ImportResult:
    """Check every row of ``table``; raise ImportRejected listing all problems, else write all rows."""
    today = max(dt.date.today(), utcnow().date())  # a file written east of UTC may already be "tomorrow"
    orders = [order for order in (_parse(row, problems, today) for row in table.rows) if order is not None]
    _check_unique_order_refs(table.rows, problems)
    products = _check_products(session, table.rows, problems)
    accounts = _check_customers(session, table.rows, problems)

    keys = _keys(orders)
    existing = _existing_orders(session, list(keys.values()))
    # only an order_ref given in the file needs the stored content compared (derived keys are content)
    compared = [existing[keys[o.row]].id for o in orders if o.order_ref is not None and keys[o.row] in existing]
    lines = _existing_lines(session, compared)
    new: list[OrderRow] = []
    unchanged = 0
    for order in orders:
        found = existing.get(keys[order.row])
        if found is None:
            new.append(order)
        elif order.order_ref is None:
            # A derived key is a hash of the row itself: the order was imported from this very row
            # before, even if someone has edited (or deleted) it in the app since.
            unchanged += 1
        else:
            difference = _difference(order, found, lines.get(found.id, []))
            if difference:
                problems.add(order.row, "order_ref", difference)
            else:
                unchanged += 1
    problems.raise_if_any()

    new_refs = list(dict.fromkeys(order.customer_ref for order in new if order.customer_ref not in accounts))
    result = ImportResult(
        entity="orders",
        source=file_name,
        rows=len(table.rows),
        created=len(new),
        unchanged=unchanged,
        accounts_created=len(new_refs),
        dry_run=dry_run,
    )
    if dry_run or not new:
        return result
    try:
        _write(session, new, keys, new_refs, accounts, products)
        audit_import(
            session,
            "orders",
            file_name,
            {"rows": result.rows, "created": result.created, "unchanged": unchanged, "accounts_created": len(new_refs)},
        )
        session.flush()
    except IntegrityError as exc:
        raise write_failed(session, file_name, exc) from None
    return result


# -------------------------------------------------------------------------------------------- checks


def _cell(row: Row, column: str, parse: Callable[[Cell], V], problems: Problems) -> tuple[V | None, bool]:
    """The parsed cell and whether it parsed (a blank cell parses to None)."""
    try:
        return parse(row.get(column)), True
    except CellError as exc:
        problems.add(row.number, column, str(exc))
        return None, False


def _parse(row: Row, problems: Problems, today: dt.date) -> OrderRow | None:
    before = len(problems)

    def required(column: str, value: V | None, parsed: bool, what: str) -> V | None:
        if value is None and parsed:
            problems.add(row.number, column, f"is empty: every order needs {what}")
        return value

    def not_negative(column: str, value: Decimal | None) -> None:
        if value is not None and value < 0:
            problems.add(row.number, column, f"{cells.shown(row.get(column))} is negative (expected 0 or more)")

    customer_ref = required(
        "customer_ref",
        *_cell(row, "customer_ref", lambda v: cells.text(v, REF_LENGTH), problems),
        "the customer's reference",
    )
    order_date = required("order_date", *_cell(row, "order_date", cells.date, problems), "a date (YYYY-MM-DD)")
    if order_date is not None and order_date > today:
        problems.add(row.number, "order_date", f"{order_date.isoformat()} is in the future (today is {today})")
    amount = required(
        "amount", *_cell(row, "amount", lambda v: cells.number(v, places=2, max_digits=14), problems), "an amount"
    )
    not_negative("amount", amount)
    order_ref, _ = _cell(row, "order_ref", lambda v: cells.text(v, ORDER_REF_LENGTH), problems)
    sku, _ = _cell(row, "sku", lambda v: cells.text(v, SKU_LENGTH), problems)
    quantity, _ = _cell(row, "quantity", lambda v: cells.number(v, places=3, max_digits=12), problems)
    if quantity is not None and quantity <= 0:
        problems.add(row.number, "quantity", f"{cells.shown(row.get('quantity'))} is not above zero")
    unit_price, _ = _cell(row, "unit_price", lambda v: cells.number(v, places=2, max_digits=14), problems)
    not_negative("unit_price", unit_price)
    channel, _ = _cell(row, "channel", lambda v: cells.choice(v, ORDER_CHANNELS), problems)
    if len(problems) > before:
        return None
    assert customer_ref is not None and order_date is not None and amount is not None  # checked above
    quantity = quantity if quantity is not None else ONE
    if unit_price is None:
        unit_price = money(amount / quantity)
    else:
        gross = line_amounts(quantity, unit_price, Decimal(0)).gross
        if abs(gross - amount) > CENT:
            problems.add(
                row.number,
                "amount",
                f"{amount} is not quantity × unit_price ({_plain(quantity)} × {unit_price} = {gross})",
            )
            return None
    return OrderRow(
        row=row.number,
        customer_ref=customer_ref,
        order_date=order_date,
        amount=amount,
        order_ref=order_ref,
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        channel=channel or "direct",
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _values(rows: list[Row], column: str, parse: Callable[[Cell], str | None]) -> list[tuple[int, str]]:
    """(row, value) for every row whose ``column`` holds a well-formed value."""
    found = []
    for row in rows:
        try:
            value = parse(row.get(column))
        except CellError:
            continue  # already reported by _parse
        if value is not None:
            found.append((row.number, value))
    return found


def _check_unique_order_refs(rows: list[Row], problems: Problems) -> None:
    first: dict[str, int] = {}
    for number, ref in _values(rows, "order_ref", lambda v: cells.text(v, ORDER_REF_LENGTH)):
        if ref in first:
            problems.add(number, "order_ref", f"{ref!r} is also the order_ref of row {first[ref]}; each must be unique")
        else:
            first[ref] = number


@dataclass(frozen=True)
class _Product:
    id: int
    name: str
    unit_cost: Decimal


def _check_products(session: Session, rows: list[Row], problems: Problems) -> dict[str, _Product]:
    wanted = _values(rows, "sku", lambda v: cells.text(v, SKU_LENGTH))
    skus = list(dict.fromkeys(sku for _, sku in wanted))
    stored = fetch_in(
        session,
        lambda chunk: select(Product.sku, Product.id, Product.name, Product.unit_cost, Product.deleted_at).where(
            Product.sku.in_(chunk)
        ),
        skus,
    )
    products = {sku: _Product(id, name, cost) for sku, id, name, cost, deleted in stored if deleted is None}
    deleted = {sku for sku, *_, gone in stored if gone is not None}
    for number, sku in wanted:
        if sku in deleted:
            problems.add(number, "sku", f"product {sku!r} was deleted")
        elif sku not in products:
            problems.add(number, "sku", f"no product has sku {sku!r}")
    return products


@dataclass(frozen=True)
class _Account:
    id: int
    owner_id: int | None
    department_id: int | None


def _check_customers(session: Session, rows: list[Row], problems: Problems) -> dict[str, _Account]:
    """Accounts named by customer_ref; refs not found here will become new customer accounts."""
    wanted = _values(rows, "customer_ref", lambda v: cells.text(v, REF_LENGTH))
    refs = list(dict.fromkeys(ref for _, ref in wanted))
    stored = fetch_in(
        session,
        lambda chunk: select(
            Account.external_ref,
            Account.id,
            Account.name,
            Account.kind,
            Account.owner_id,
            Account.department_id,
            Account.deleted_at,
        ).where(Account.external_ref.in_(chunk)),
        refs,
    )
    accounts: dict[str, _Account] = {}
    refused: dict[str, str] = {}
    for ref, id, name, kind, owner_id, department_id, deleted_at in stored:
        if deleted_at is not None:
            refused[ref] = f"{ref!r} is the reference of account {name!r}, which was deleted; restore it first"
        elif kind == "supplier":
            refused[ref] = f"{ref!r} is supplier {name!r}; orders are sales to customers or partners"
        else:
            accounts[ref] = _Account(id, owner_id, department_id)
    for number, ref in wanted:
        if ref in refused:
            problems.add(number, "customer_ref", refused[ref])
    return accounts


def _keys(orders: list[OrderRow]) -> dict[int, str]:
    """external_ref per row: the order_ref, else a hash of the content and its occurrence among twins."""
    keys: dict[int, str] = {}
    seen: dict[str, int] = {}
    for order in orders:
        if order.order_ref is not None:
            keys[order.row] = order.order_ref
            continue
        content = order.content()
        occurrence = seen.get(content, 0)
        seen[content] = occurrence + 1
        digest = hashlib.sha256(f"{content}\x1e{occurrence}".encode()).hexdigest()[:40]
        keys[order.row] = DERIVED_REF_PREFIX + digest
    return keys


def _existing_orders(session: Session, keys: list[str]) -> dict[str, _Existing]:
    stored = fetch_in(
        session,
        lambda chunk: (
            select(
                Order.external_ref,
                Order.id,
                Order.number,
                Order.kind,
                Order.deleted_at,
                Account.external_ref,
                Order.order_date,
                Order.total_amount,
                Order.channel,
            )
            .join(Account, Account.id == Order.account_id)
            .where(Order.external_ref.in_(chunk))
        ),
        keys,
    )
    return {
        ref: _Existing(id, number, kind, deleted is not None, customer_ref, order_date, Decimal(amount), channel)
        for ref, id, number, kind, deleted, customer_ref, order_date, amount, channel in stored
    }


@dataclass(frozen=True)
class _Line:
    sku: str | None
    quantity: Decimal
    unit_price: Decimal


def _existing_lines(session: Session, order_ids: list[int]) -> dict[int, list[_Line]]:
    stored = fetch_in(
        session,
        lambda chunk: (
            select(OrderLine.order_id, Product.sku, OrderLine.quantity, OrderLine.unit_price)
            .outerjoin(Product, Product.id == OrderLine.product_id)
            .where(OrderLine.order_id.in_(chunk))
        ),
        order_ids,
    )
    lines: dict[int, list[_Line]] = {}
    for order_id, sku, quantity, unit_price in stored:
        lines.setdefault(order_id, []).append(_Line(sku, Decimal(quantity), Decimal(unit_price)))
    return lines


def _difference(order: OrderRow, found: _Existing, lines: list[_Line]) -> str:
    """Why a row cannot be the order already stored under its order_ref ('' when it is the same)."""
    ref = order.order_ref
    if found.deleted:
        return f"{ref!r} is the order_ref of order {found.number}, which was deleted; use another order_ref"
    if found.kind != "sale":
        return f"{ref!r} is the order_ref of return {found.number}, not of a sale"
    compared: list[tuple[str, Any, Any]] = [
        ("customer_ref", found.customer_ref, order.customer_ref),
        ("order_date", found.order_date, order.order_date),
        ("amount", found.amount, order.amount),
        ("channel", found.channel, order.channel),
    ]
    if len(lines) == 1:
        line = lines[0]
        compared += [
            ("sku", line.sku, order.sku),
            ("quantity", _plain(line.quantity), _plain(order.quantity)),
            ("unit_price", line.unit_price, order.unit_price),
        ]
    else:
        compared.append(("lines", f"{len(lines)} lines", "1 line"))
    differences = [
        f"{name} {_shown(stored)} in the database, {_shown(given)} in the file"
        for name, stored, given in compared
        if stored != given
    ]
    if not differences:
        return ""
    return (
        f"order {found.number} was imported before with order_ref {ref!r} and different content "
        f"({'; '.join(differences)}); an import never overwrites an order: correct it in the app "
        "or give this row another order_ref"
    )


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------- write


def _write(
    session: Session,
    new: list[OrderRow],
    keys: dict[int, str],
    new_refs: list[str],
    accounts: dict[str, _Account],
    products: dict[str, _Product],
) -> None:
    """Bulk inserts through Core (no per-row ORM flush): accounts, then orders, then their lines."""
    now = utcnow()
    stamps: dict[str, Any] = {"created_at": now, "updated_at": now, "version": 1}
    accounts = dict(accounts)
    if new_refs:
        table = table_of(Account)
        created = session.execute(
            insert(table).returning(table.c.id, table.c.external_ref),
            [
                {
                    "kind": "customer",
                    "name": ref,
                    "external_ref": ref,
                    "lifecycle_stage": "signed",
                    "source": "import",
                    "custom": {},
                    **stamps,
                }
                for ref in new_refs
            ],
        )
        for account in created:
            accounts[account.external_ref] = _Account(account.id, None, None)

    numbers = allocate_numbers(session, Order, "SO", len(new))
    order_table = table_of(Order)
    # Batches bound the memory the statement parameters take, whatever the file's size.
    for start in range(0, len(new), WRITE_BATCH):
        batch = new[start : start + WRITE_BATCH]
        inserted = session.execute(
            insert(order_table).returning(order_table.c.id, order_table.c.external_ref),
            [
                {
                    "number": number,
                    "external_ref": keys[order.row],
                    "kind": "sale",
                    "account_id": accounts[order.customer_ref].id,
                    "owner_id": accounts[order.customer_ref].owner_id,
                    "department_id": accounts[order.customer_ref].department_id,
                    "channel": order.channel,
                    "status": IMPORTED_ORDER_STATUS,
                    "order_date": order.order_date,
                    "total_amount": order.amount,
                    "custom": {},
                    **stamps,
                }
                for order, number in zip(batch, numbers[start : start + WRITE_BATCH], strict=True)
            ],
        )
        order_ids: dict[str, int] = {row.external_ref: row.id for row in inserted}
        session.execute(
            insert(table_of(OrderLine)), [_line(order, order_ids[keys[order.row]], products, stamps) for order in batch]
        )


def _line(order: OrderRow, order_id: int, products: dict[str, _Product], stamps: dict[str, Any]) -> dict[str, Any]:
    product = products[order.sku] if order.sku is not None else None
    return {
        "order_id": order_id,
        "position": 1,
        "product_id": product.id if product else None,
        "description": product.name if product else None,
        "quantity": order.quantity,
        "unit_price": order.unit_price,
        "discount_pct": Decimal(0),
        "discount_amount": Decimal(0),
        # The file's amount is what was paid; with a derived unit price, quantity × price may differ
        # from it by rounding, and the order total must be the amount.
        "line_total": order.amount,
        "unit_cost": product.unit_cost if product else None,
        **stamps,
    }
