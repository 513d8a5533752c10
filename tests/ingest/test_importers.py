"""`crm import accounts|orders`: good files land whole and only once; bad files are refused whole, changing nothing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crm_app.cli import main
from crm_app.models import Account, AuditLog, Base, CustomFieldDefinition, Order
from crm_app.services.orders import LineInput, create_order
from ingest.importers import ImportRejected, import_file
from tests import factories

D = Decimal
DATA = Path(__file__).parent / "data"
FUTURE = (dt.date.today() + dt.timedelta(days=40)).isoformat()
ORDERS_HEADER = "customer_ref,order_date,amount,order_ref,sku,quantity,unit_price,channel"


# ------------------------------------------------------------------------------------------- helpers


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table, read through a fresh connection: what any other user would see."""
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def write_csv(tmp_path: Path, *lines: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def write_xlsx(tmp_path: Path, rows: Sequence[Sequence[Any]], name: str = "orders.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    path = tmp_path / name
    workbook.save(path)
    return path


def run_crm(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`crm ARGS` in-process through the console entry point, with its error handling: (exit code, output)."""
    monkeypatch.setattr(sys, "argv", ["crm", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def refused(session: Session, kind: str, path: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        import_file(session, kind, path)
    session.commit()  # proves nothing was left pending either
    return caught.value


@pytest.fixture
def cli(crm_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The CLI's environment; the engine the CLI opened is closed afterwards."""
    from crm_app.db import get_engine

    yield crm_env
    get_engine().dispose()


@pytest.fixture
def catalog(session: Session) -> SimpleNamespace:
    """Committed reference data the sample orders file refers to."""
    sales = factories.department(session, code="SALES")
    rep = factories.user(session, username="rep1", department_id=sales.id)
    acme = factories.account(
        session, name="Acme Retail", external_ref="ACME-001", owner_id=rep.id, department_id=sales.id
    )
    globex = factories.account(session, name="Globex", external_ref="GLOBEX-9", kind="partner")
    supplier = factories.account(session, name="Parts Ltd", external_ref="SUP-1", kind="supplier")
    chair = factories.product(session, sku="CHAIR-01", list_price="120.00", unit_cost="70.00")
    desk = factories.product(session, sku="DESK-01", list_price="399.99", unit_cost="250.00")
    session.commit()
    return SimpleNamespace(sales=sales, rep=rep, acme=acme, globex=globex, supplier=supplier, chair=chair, desk=desk)


# ------------------------------------------------------------------------------------ orders: happy


def test_import_orders_csv_creates_one_order_with_one_line_per_row(session: Session, catalog: SimpleNamespace) -> None:
    result = import_file(session, "orders", DATA / "orders_sample.csv")
    session.commit()

    assert (result.rows, result.created, result.unchanged, result.accounts_created) == (5, 5, 0, 1)
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    assert [o.number for o in orders] == [f"SO-000000{n}" for n in range(1, 6)]
    by_ref = {o.external_ref: o for o in orders}
    chairs = by_ref["LEG-1001"]
    assert chairs.account_id == catalog.acme.id
    assert (chairs.owner_id, chairs.department_id) == (catalog.rep.id, catalog.sales.id)  # the account's
    assert (chairs.order_date, chairs.channel, chairs.kind, chairs.total_amount) == (
        dt.date(2024, 1, 15),
        "direct",
        "sale",
        D("240.00"),
    )
    [line] = chairs.lines
    assert (line.product_id, line.quantity, line.unit_price, line.line_total) == (catalog.chair.id, 2, D("120"), 240)
    assert line.unit_cost == D("70.00")  # the product's cost at import time
    assert by_ref["LEG-1003"].channel == "partner" and by_ref["LEG-1003"].account_id == catalog.globex.id
    for order in orders:
        assert order.total_amount == sum(line.line_total for line in order.lines)

    newcomer = session.scalar(select(Account).where(Account.external_ref == "NEW-777"))
    assert newcomer is not None
    assert (newcomer.name, newcomer.kind, newcomer.lifecycle_stage, newcomer.source) == (
        "NEW-777",
        "customer",
        "signed",
        "import",
    )
    twins = [o for o in orders if o.account_id == newcomer.id]
    assert len(twins) == 2, "two identical rows without order_ref are two orders"
    assert twins[0].external_ref != twins[1].external_ref
    assert all(o.external_ref and o.external_ref.startswith("import:") for o in twins)
    assert all(o.lines[0].product_id is None and o.lines[0].unit_cost is None for o in twins)
    assert all(o.lines[0].unit_price == D("59.90") and o.lines[0].quantity == 1 for o in twins)

    audit = session.scalars(select(AuditLog).where(AuditLog.action == "import")).all()
    assert [(a.entity, a.changes) for a in audit] == [
        ("orders", {"file": "orders_sample.csv", "rows": 5, "created": 5, "unchanged": 0, "accounts_created": 1})
    ]
    assert "5 orders created" in result.describe() and "1 new customer account created" in result.describe()


def test_reimporting_the_same_orders_file_changes_nothing(
    session: Session, engine: Engine, catalog: SimpleNamespace
) -> None:
    import_file(session, "orders", DATA / "orders_sample.csv")
    session.commit()
    before = table_counts(engine)

    again = import_file(session, "orders", DATA / "orders_sample.csv")
    session.commit()

    assert table_counts(engine) == before  # no order, line, account or audit row added
    assert (again.created, again.unchanged, again.accounts_created) == (0, 5, 0)
    assert "Nothing changed" in again.describe()


def test_import_orders_xlsx_reads_date_cells_numbers_and_sheet_rows(
    session: Session, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["Customer_Ref", "Order_Date", "Amount", "SKU", "Quantity"],
            [1001, dt.datetime(2024, 5, 2), 19.99, None, None],
            [],  # a blank row in the sheet is skipped
            ["ACME-001", "2024-05-03", 399.99, "DESK-01", 1],
        ],
    )
    result = import_file(session, "orders", path)
    session.commit()

    assert (result.rows, result.created, result.accounts_created) == (2, 2, 1)
    numeric_ref = session.scalar(select(Account).where(Account.external_ref == "1001"))  # not "1001.0"
    assert numeric_ref is not None
    order = session.scalar(select(Order).where(Order.account_id == numeric_ref.id))
    assert order is not None and (order.order_date, order.total_amount) == (dt.date(2024, 5, 2), D("19.99"))
    desk = session.scalar(select(Order).where(Order.account_id == catalog.acme.id))
    assert desk is not None and desk.lines[0].unit_cost == D("250.00")


def test_the_same_rows_as_xlsx_after_csv_are_recognised_as_imported(
    session: Session, engine: Engine, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    csv_path = write_csv(tmp_path, "customer_ref,order_date,amount,quantity", "ACME-001,2024-06-01,10,2")
    import_file(session, "orders", csv_path)
    session.commit()
    before = table_counts(engine)

    xlsx_path = write_xlsx(
        tmp_path, [["customer_ref", "order_date", "amount", "quantity"], ["ACME-001", dt.date(2024, 6, 1), 10.0, 2.0]]
    )
    again = import_file(session, "orders", xlsx_path)
    session.commit()

    assert (again.created, again.unchanged) == (0, 1)
    assert table_counts(engine) == before


def test_identical_rows_without_order_ref_count_by_occurrence(
    session: Session, engine: Engine, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    row = "ACME-001,2024-07-01,5.00"
    twice = write_csv(tmp_path, "customer_ref,order_date,amount", row, row, name="twice.csv")
    assert import_file(session, "orders", twice).created == 2
    session.commit()

    thrice = write_csv(tmp_path, "customer_ref,order_date,amount", row, row, row, name="thrice.csv")
    result = import_file(session, "orders", thrice)
    session.commit()

    assert (result.created, result.unchanged) == (1, 2)
    assert table_counts(engine)["orders"] == 3


def test_semicolon_separated_csv_with_bom_is_read(session: Session, tmp_path: Path, catalog: SimpleNamespace) -> None:
    path = tmp_path / "excel-export.csv"
    path.write_bytes("\ufeffcustomer_ref;order_date;amount\r\nACME-001;2024-08-01;12.50\r\n".encode())
    result = import_file(session, "orders", path)
    session.commit()
    assert result.created == 1
    order = session.scalar(select(Order).where(Order.account_id == catalog.acme.id))
    assert order is not None and order.total_amount == D("12.50")


def test_import_numbers_orders_after_the_existing_ones(
    session: Session, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    line = [LineInput(product_id=catalog.chair.id, quantity=D(1))]
    first = create_order(session, {"account_id": catalog.acme.id}, line, None)
    create_order(session, {"account_id": catalog.acme.id, "number": "SO-0000003"}, line, None)
    session.commit()

    path = write_csv(tmp_path, "customer_ref,order_date,amount", "ACME-001,2024-01-01,1", "ACME-001,2024-01-02,2")
    import_file(session, "orders", path)
    session.commit()

    numbers = session.scalars(select(Order.number).order_by(Order.id)).all()
    assert first.number == "SO-0000001"
    assert numbers == ["SO-0000001", "SO-0000003", "SO-0000004", "SO-0000005"]  # SO-0000003 was taken


def test_an_order_ref_imported_before_with_other_content_is_refused(
    session: Session, engine: Engine, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    import_file(session, "orders", DATA / "orders_sample.csv")
    session.commit()
    before = table_counts(engine)

    changed = write_csv(tmp_path, ORDERS_HEADER, "ACME-001,2024-01-15,250.00,LEG-1001,CHAIR-01,2,125.00,direct")
    error = refused(session, "orders", changed)

    assert "row 2, column order_ref: order SO-0000001 was imported before with order_ref 'LEG-1001'" in str(error)
    assert "amount 240.00 in the database, 250.00 in the file" in str(error)
    assert "unit_price 120.00 in the database, 125.00 in the file" in str(error)
    assert table_counts(engine) == before


def test_every_problem_in_a_file_is_reported_at_once(
    session: Session, engine: Engine, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    before = table_counts(engine)
    path = write_csv(
        tmp_path,
        ORDERS_HEADER,
        "ACME-001,2024-01-01,10.00,R-1,,,,",
        "ACME-001,2024-13-01,-5,R-2,NOPE,,,",
        ",2024-01-01,ten,R-1,,0,,fax",
        f"NEW-1,{FUTURE},1.50,,,,,",
    )
    error = refused(session, "orders", path)

    assert [(p.row, p.column) for p in error.problems] == [
        (3, "order_date"),
        (3, "amount"),
        (3, "sku"),
        (4, "customer_ref"),
        (4, "amount"),
        (4, "quantity"),
        (4, "channel"),
        (4, "order_ref"),
        (5, "order_date"),
    ]
    assert str(error).startswith(f"{path}: nothing was imported; 9 problems found:")
    assert table_counts(engine) == before


def test_a_very_bad_file_lists_fifty_problems_and_counts_the_rest(
    session: Session, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    path = write_csv(tmp_path, "customer_ref,order_date,amount", *(f"ACME-001,2024-01-01,x{n}" for n in range(60)))
    message = str(refused(session, "orders", path))
    assert "row 51, column amount: 'x49' is not a number" in message
    assert "row 62" not in message and "... and 10 more" in message


# ------------------------------------------------------------------------------ orders: bad input, CLI

BAD_ORDER_FILES = {
    "missing columns": (
        b"customer_ref,amount\nACME-001,10\n",
        ["row 1: missing required column: order_date"],
    ),
    "unknown column": (
        b"customer_ref,order_date,amount,colour\nACME-001,2024-01-01,10,red\n",
        ["row 1: unknown column 'colour'", "the accepted columns are: customer_ref, order_date, amount, order_ref"],
    ),
    "bad date": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,10\nACME-001,2024-13-01,10\n",
        ["row 3, column order_date: '2024-13-01' is not a date (expected YYYY-MM-DD)"],
    ),
    "date in another format": (
        b"customer_ref,order_date,amount\nACME-001,01/02/2024,10\n",
        ["row 2, column order_date: '01/02/2024' is not a date (expected YYYY-MM-DD)"],
    ),
    "future date": (
        f"customer_ref,order_date,amount\nACME-001,{FUTURE},10\n".encode(),
        [f"row 2, column order_date: {FUTURE} is in the future"],
    ),
    "negative amount": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,-5.00\n",
        ["row 2, column amount: '-5.00' is negative (expected 0 or more)"],
    ),
    "non-numeric amount": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,ten\n",
        ["row 2, column amount: 'ten' is not a number (expected e.g. 1234.56)"],
    ),
    "missing amount": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,\n",
        ["row 2, column amount: is empty: every order needs an amount"],
    ),
    "fractions of a cent": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,10.005\n",
        ["row 2, column amount: '10.005' has more than 2 decimal places"],
    ),
    "unknown sku": (
        b"customer_ref,order_date,amount,sku\nACME-001,2024-01-01,10,NOPE-9\n",
        ["row 2, column sku: no product has sku 'NOPE-9'"],
    ),
    "duplicate order refs": (
        b"customer_ref,order_date,amount,order_ref\nACME-001,2024-01-01,10,X-1\n"
        b"ACME-001,2024-01-02,11,X-2\nACME-001,2024-01-03,12,X-1\n",
        ["row 4, column order_ref: 'X-1' is also the order_ref of row 2"],
    ),
    "zero quantity": (
        b"customer_ref,order_date,amount,quantity\nACME-001,2024-01-01,10,0\n",
        ["row 2, column quantity: '0' is not above zero"],
    ),
    "amount is not quantity times price": (
        b"customer_ref,order_date,amount,quantity,unit_price\nACME-001,2024-01-01,25,2,10\n",
        ["row 2, column amount: 25.00 is not quantity × unit_price (2 × 10.00 = 20.00)"],
    ),
    "unknown channel": (
        b"customer_ref,order_date,amount,channel\nACME-001,2024-01-01,10,fax\n",
        ["row 2, column channel: 'fax' is not one of: direct, partner, web, phone, retail"],
    ),
    "a supplier as customer": (
        b"customer_ref,order_date,amount\nSUP-1,2024-01-01,10\n",
        ["row 2, column customer_ref: 'SUP-1' is supplier 'Parts Ltd'"],
    ),
    "too many values": (
        b"customer_ref,order_date,amount\nACME-001,2024-01-01,10,5\n",
        ["row 2: has a value in position 4 but the header names only 3 columns"],
    ),
    "wrong encoding": (
        "customer_ref,order_date,amount\nACME-001,2024-01-01,10\nCAFÉ-1,2024-01-02,12\n".encode("cp1252"),
        ["row 3, column customer_ref: the file is not valid UTF-8 text (byte 0xc9", "save it as 'CSV UTF-8'"],
    ),
    "UTF-16": (
        "customer_ref,order_date,amount\nACME-001,2024-01-01,10\n".encode("utf-16"),
        ["the file is UTF-16 text, not UTF-8", "save it as 'CSV UTF-8'"],
    ),
    "empty file": (b"", ["the file is empty: expected a header row (e.g. customer_ref,order_date,amount)"]),
    "blank lines only": (b"\n  \n\n", ["the file is empty"]),
    "header only": (b"customer_ref,order_date,amount\n", ["row 1: the file has a header row but no data rows"]),
}


@pytest.mark.parametrize("case", list(BAD_ORDER_FILES))
def test_crm_import_orders_refuses_a_bad_file_whole(
    case: str,
    engine: Engine,
    catalog: SimpleNamespace,
    cli: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    content, expected = BAD_ORDER_FILES[case]
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    before = table_counts(engine)

    code, output = run_crm(monkeypatch, capsys, "import", "orders", str(path))

    assert code != 0
    assert output.startswith(f"Error: {path}: nothing was imported")
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in output
    assert table_counts(engine) == before


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("orders.xlsx", b"customer_ref,order_date,amount\n", "the file is not a readable Excel .xlsx workbook"),
        ("orders.xls", b"\xd0\xcf\x11\xe0", "old Excel .xls workbooks cannot be read: save it as .xlsx"),
        ("orders.json", b"[]", "cannot import a .json file: use a .csv file (UTF-8) or an Excel .xlsx file"),
        ("missing.csv", None, "file not found"),
    ],
)
def test_crm_import_refuses_files_it_cannot_read(
    name: str,
    content: bytes | None,
    expected: str,
    engine: Engine,
    cli: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = table_counts(engine)

    code, output = run_crm(monkeypatch, capsys, "import", "orders", str(path))

    assert code != 0 and expected in output and "Traceback" not in output
    assert table_counts(engine) == before


def test_a_bad_xlsx_names_sheet_rows_and_columns(
    session: Session, engine: Engine, tmp_path: Path, catalog: SimpleNamespace
) -> None:
    path = write_xlsx(
        tmp_path,
        [
            ["customer_ref", "order_date", "amount"],
            ["ACME-001", dt.date(2024, 1, 1), 10],
            [],
            ["ACME-001", "yesterday", -1],
            ["ACME-001", dt.date(2024, 1, 2), True],
        ],
    )
    before = table_counts(engine)
    message = str(refused(session, "orders", path))
    assert "row 4, column order_date: 'yesterday' is not a date (expected YYYY-MM-DD)" in message
    assert "row 4, column amount: -1 is negative" in message
    assert "row 5, column amount: True is not a number" in message
    assert table_counts(engine) == before


def test_crm_import_orders_dry_run_checks_and_writes_nothing(
    engine: Engine,
    catalog: SimpleNamespace,
    cli: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = table_counts(engine)
    code, output = run_crm(monkeypatch, capsys, "import", "orders", "--dry-run", str(DATA / "orders_sample.csv"))
    assert code == 0, output
    assert "5 orders would be created" in output and "1 new customer account would be created" in output
    assert "nothing was written" in output
    assert table_counts(engine) == before

    code, output = run_crm(monkeypatch, capsys, "import", "orders", str(DATA / "orders_sample.csv"))
    assert code == 0 and "5 orders created" in output
    assert table_counts(engine)["orders"] == before["orders"] + 5


def test_crm_import_as_a_separate_process(engine: Engine, catalog: SimpleNamespace, cli: dict[str, str]) -> None:
    """The console script end to end: success prints a summary; a refusal exits 1 with a message only."""
    command = [sys.executable, "-m", "crm_app.cli", "import"]
    env = {**os.environ, **cli}
    ok = subprocess.run(
        [*command, "orders", str(DATA / "orders_sample.csv")], env=env, capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert "Imported orders_sample.csv: 5 rows read; 5 orders created" in ok.stdout
    before = table_counts(engine)

    bad = DATA / "accounts_sample.csv"  # an accounts file given as orders
    no = subprocess.run([*command, "orders", str(bad)], env=env, capture_output=True, text=True, timeout=120)
    assert no.returncode == 1
    assert "Error:" in no.stderr and "missing required columns: customer_ref, order_date, amount" in no.stderr
    assert "Traceback" not in no.stderr + no.stdout
    assert table_counts(engine) == before


def test_crm_import_rejects_an_unknown_kind(
    cli: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_crm(monkeypatch, capsys, "import", "invoices", str(DATA / "orders_sample.csv"))
    assert code == 2 and "No such command 'invoices'" in output and "Traceback" not in output


# ---------------------------------------------------------------------------------------- accounts


@pytest.fixture
def people(session: Session) -> SimpleNamespace:
    north = factories.department(session, code="NORTH", name="North sales")
    south = factories.department(session, code="SOUTH", name="South sales")
    rep = factories.user(session, username="rep1", department_id=north.id)
    hq = factories.account(session, name="HQ Partner", external_ref="HQ", kind="partner")
    customer = factories.account(session, name="Acme Retail", external_ref="ACME-001")
    session.add_all(
        [
            CustomFieldDefinition(
                entity="accounts", name="segment", label="Segment", field_type="choice", choices=["smb", "enterprise"]
            ),
            CustomFieldDefinition(entity="accounts", name="employees", label="Employees", field_type="number"),
            CustomFieldDefinition(entity="accounts", name="founded", label="Founded", field_type="date"),
            CustomFieldDefinition(entity="accounts", name="vip", label="VIP", field_type="boolean"),
        ]
    )
    session.commit()
    return SimpleNamespace(north=north, south=south, rep=rep, hq=hq, customer=customer)


ACCOUNTS_HEADER = (
    " Name ,External_Ref,KIND,owner,department,parent_ref,email,credit_limit,tier,city,"
    "custom.segment,custom.employees,custom.founded,custom.vip"
)
ACCOUNT_ROWS = (
    "Northwind,NW,partner,rep1,,HQ,Sales@NorthWind.example,50000,a,Oslo,SMB,250,1999-05-01,yes",
    "Initech,,,,,,,,,Austin,,,,",
    "Globex,GLX,customer,rep1,South sales,NW,,1000.5,B,,enterprise,12.5,,no",
)


def test_import_accounts_creates_them_with_owner_department_parent_and_custom_fields(
    session: Session, tmp_path: Path, people: SimpleNamespace
) -> None:
    path = write_csv(tmp_path, ACCOUNTS_HEADER, *ACCOUNT_ROWS, name="accounts.csv")
    result = import_file(session, "accounts", path)
    session.commit()

    assert (result.rows, result.created, result.updated, result.unchanged) == (3, 3, 0, 0)
    northwind = session.scalar(select(Account).where(Account.external_ref == "NW"))
    globex = session.scalar(select(Account).where(Account.external_ref == "GLX"))
    initech = session.scalar(select(Account).where(Account.name == "Initech"))
    assert northwind is not None and globex is not None and initech is not None
    assert (northwind.kind, northwind.owner_id, northwind.parent_id) == ("partner", people.rep.id, people.hq.id)
    assert northwind.department_id == people.north.id  # the owner's department when none is given
    assert (northwind.email, northwind.credit_limit, northwind.tier, northwind.source) == (
        "sales@northwind.example",  # normalised as the app's forms store it
        D("50000.00"),
        "A",
        "import",
    )
    assert northwind.custom == {"segment": "smb", "employees": 250, "founded": "1999-05-01", "vip": True}
    assert (globex.department_id, globex.parent_id) == (people.south.id, northwind.id)  # parent from row 2
    assert globex.custom == {"segment": "enterprise", "employees": 12.5, "vip": False}
    assert (initech.kind, initech.external_ref, initech.city, initech.custom) == ("customer", None, "Austin", {})
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "import")).all()
    assert [(a.entity, a.changes["created"]) for a in audit] == [("accounts", 3)]


def test_reimporting_the_same_accounts_file_changes_nothing(
    session: Session, engine: Engine, tmp_path: Path, people: SimpleNamespace
) -> None:
    path = write_csv(tmp_path, ACCOUNTS_HEADER, *ACCOUNT_ROWS, name="accounts.csv")
    import_file(session, "accounts", path)
    session.commit()
    before = table_counts(engine)

    again = import_file(session, "accounts", path)
    session.commit()

    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert table_counts(engine) == before


def test_a_changed_row_updates_its_account_with_an_audited_new_version(
    session: Session, engine: Engine, tmp_path: Path, people: SimpleNamespace
) -> None:
    import_file(session, "accounts", write_csv(tmp_path, ACCOUNTS_HEADER, *ACCOUNT_ROWS, name="v1.csv"))
    session.commit()
    changed = (
        ACCOUNT_ROWS[0],
        "Initech,,,,,,,,,Dallas,,,,",  # matched by kind and name: it has no external_ref
        "Globex,GLX,customer,,,,,,,,,,,",  # blank cells leave the stored values alone
    )
    result = import_file(session, "accounts", write_csv(tmp_path, ACCOUNTS_HEADER, *changed, name="v2.csv"))
    session.commit()

    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    initech = session.scalar(select(Account).where(Account.name == "Initech"))
    globex = session.scalar(select(Account).where(Account.external_ref == "GLX"))
    assert initech is not None and globex is not None
    assert (initech.city, initech.version) == ("Dallas", 2)
    assert (globex.tier, globex.credit_limit, globex.version) == ("B", D("1000.50"), 1)
    updates = session.scalars(select(AuditLog).where(AuditLog.action == "update")).all()
    assert [(a.entity, a.entity_id, a.changes) for a in updates] == [
        ("accounts", initech.id, {"city": ["Austin", "Dallas"]})
    ]
    assert "1 updated" in result.describe()


def test_a_stored_parent_may_be_updated_further_down_the_file(
    session: Session, tmp_path: Path, people: SimpleNamespace
) -> None:
    path = write_csv(
        tmp_path,
        "name,external_ref,kind,parent_ref,city",
        "Child,C-1,,HQ,",
        "HQ Partner,HQ,partner,,Paris",
        name="a.csv",
    )
    result = import_file(session, "accounts", path)
    session.commit()
    assert (result.created, result.updated) == (1, 1)
    child = session.scalar(select(Account).where(Account.external_ref == "C-1"))
    assert child is not None and child.parent_id == people.hq.id
    session.refresh(people.hq)
    assert people.hq.city == "Paris"


def test_an_ambiguous_name_without_external_ref_is_refused(
    session: Session, engine: Engine, tmp_path: Path, people: SimpleNamespace
) -> None:
    factories.account(session, name="Twin Co")
    factories.account(session, name="Twin Co")
    session.commit()
    before = table_counts(engine)
    error = refused(session, "accounts", write_csv(tmp_path, "name,city", "Twin Co,Rome", name="a.csv"))
    assert "row 2, column name: 2 customer accounts are named 'Twin Co'; add an external_ref column" in str(error)
    assert table_counts(engine) == before


BAD_ACCOUNT_FILES = {
    "unknown kind": (
        "name,kind\nAcme,vendor\n",
        "row 2, column kind: 'vendor' is not one of: customer, partner, supplier",
    ),
    "missing name column": ("external_ref,kind\nX-1,customer\n", "row 1: missing required column: name"),
    "empty name": ("name,city\n,Rome\n", "row 2, column name: is empty: every account needs a name"),
    "unknown lifecycle": ("name,lifecycle_stage\nAcme,happy\n", "row 2, column lifecycle_stage: 'happy' is not one of"),
    "bad email": ("name,email\nAcme,bob@\n", "row 2, column email: 'bob@' is not a valid email address"),
    "unknown owner": ("name,owner\nAcme,ghost\n", "row 2, column owner: no user is named 'ghost'"),
    "unknown department": ("name,department\nAcme,EAST\n", "row 2, column department: no department has the code"),
    "negative credit limit": ("name,credit_limit\nAcme,-1\n", "row 2, column credit_limit: -1.00 is negative"),
    "parent defined later": (
        "name,external_ref,kind,parent_ref\nChild,C-1,customer,P-1\nParent,P-1,partner,\n",
        "row 2, column parent_ref: 'P-1' is defined on row 3, after this row",
    ),
    "parent is not a partner": (
        "name,parent_ref\nChild,ACME-001\n",
        "row 2, column parent_ref: 'ACME-001' is customer 'Acme Retail', not a partner",
    ),
    "unknown parent": ("name,parent_ref\nChild,NOPE\n", "row 2, column parent_ref: no partner has external_ref 'NOPE'"),
    "duplicate external_ref": (
        "name,external_ref\nOne,X-1\nTwo,X-1\n",
        "row 3, column external_ref: 'X-1' is also the external_ref of row 2",
    ),
    "duplicate name without key": ("name\nSame\nSame\n", "row 3, column name: customer 'Same' is also on row 2"),
    "bad custom choice": ("name,custom.segment\nAcme,huge\n", "row 2, column custom.segment: 'huge' is not one of"),
    "bad custom number": (
        "name,custom.employees\nAcme,many\n",
        "row 2, column custom.employees: 'many' is not a number",
    ),
    "unknown custom field": ("name,custom.colour\nAcme,red\n", "row 1: unknown column 'custom.colour'"),
}


@pytest.mark.parametrize("case", list(BAD_ACCOUNT_FILES))
def test_crm_import_accounts_refuses_a_bad_file_whole(
    case: str,
    engine: Engine,
    people: SimpleNamespace,
    cli: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    content, expected = BAD_ACCOUNT_FILES[case]
    header, *rows = content.splitlines()
    # a valid new account in the same file must not be created either
    path = write_csv(tmp_path, header, *rows, "Good Co" + "," * header.count(","), name="accounts.csv")
    before = table_counts(engine)

    code, output = run_crm(monkeypatch, capsys, "import", "accounts", str(path))

    assert code != 0 and "Traceback" not in output
    assert output.startswith(f"Error: {path}: nothing was imported")
    assert expected in output
    assert table_counts(engine) == before


def test_a_required_custom_field_must_be_given_for_new_accounts(
    session: Session, engine: Engine, tmp_path: Path, people: SimpleNamespace
) -> None:
    vat = CustomFieldDefinition(entity="accounts", name="vat", label="VAT number", field_type="text", required=True)
    session.add(vat)
    session.commit()
    before = table_counts(engine)
    error = refused(session, "accounts", write_csv(tmp_path, "name,city", "Newco,Rome", name="a.csv"))
    assert "row 2, column custom.vat: is empty: the custom field 'VAT number' is required" in str(error)
    assert table_counts(engine) == before


def test_dry_run_of_an_accounts_file_reports_without_writing(
    session: Session, engine: Engine, tmp_path: Path, people: SimpleNamespace
) -> None:
    before = table_counts(engine)
    path = write_csv(tmp_path, ACCOUNTS_HEADER, *ACCOUNT_ROWS, name="accounts.csv")
    result = import_file(session, "accounts", path, dry_run=True)
    session.commit()
    assert (result.created, result.dry_run) == (3, True)
    assert "3 accounts would be created" in result.describe()
    assert table_counts(engine) == before


def test_crm_import_accounts_sample_file(
    engine: Engine, cli: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_crm(monkeypatch, capsys, "import", "accounts", str(DATA / "accounts_sample.csv"))
    assert code == 0, output
    assert "4 accounts created, 0 updated, 0 unchanged" in output
    code, output = run_crm(monkeypatch, capsys, "import", "accounts", str(DATA / "accounts_sample.csv"))
    assert code == 0 and "0 accounts created, 0 updated, 4 unchanged" in output
