"""Data in (CSV/Excel import): reading a CSV or .xlsx file into a checked header and numbered rows."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.importing.cells import Cell, is_blank
from ingest.importing.problems import ImportRejected, Problem, Problems, reject

CSV_SUFFIXES = (".csv",)
XLSX_SUFFIXES = (".xlsx", ".xlsm")
SAVE_AS_UTF8 = "save it as 'CSV UTF-8' (in Excel: File > Save As > CSV UTF-8) and import it again"


@dataclass(frozen=True)
class Columns:
    """The columns a kind of file must have and may have (lower-case names)."""

    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True, slots=True)
class Row:
    """A data row: its number in the file (header = row 1) and its cells by column name."""

    number: int
    cells: dict[str, Cell]

    def get(self, column: str) -> Cell:
        return self.cells.get(column)


@dataclass(frozen=True)
class Table:
    source: str
    header_row: int
    columns: tuple[str, ...]
    rows: list[Row]


def read_table(path: Path, columns: Columns, problems: Problems) -> Table:
    """Read ``path`` (CSV or .xlsx); refuse at once what cannot be read, collect row-level problems.

    Raises ImportRejected for a missing, unreadable, empty or header-only file and for a header that
    lacks required columns or names unknown ones — nothing row by row makes sense then.
    """
    source = problems.source
    if not path.exists():
        raise reject(source, f"file not found: {path}")
    if path.is_dir():
        raise reject(source, f"{path} is a folder, not a file")
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            records = _read_csv(path.read_bytes(), source)
        elif suffix in XLSX_SUFFIXES:
            records = _read_xlsx(path, source)
        elif suffix == ".xls":
            raise reject(source, "old Excel .xls workbooks cannot be read: save it as .xlsx or as CSV UTF-8")
        else:
            raise reject(
                source,
                f"cannot import a {suffix or 'extension-less'} file: use a .csv file (UTF-8) or an Excel .xlsx file",
            )
    except OSError as exc:
        raise reject(source, f"cannot read {path}: {exc.strerror or exc}") from None
    return _table(source, records, columns, problems)


def _table(source: str, records: list[tuple[int, list[Cell]]], columns: Columns, problems: Problems) -> Table:
    filled = [(number, values) for number, values in records if not all(is_blank(v) for v in values)]
    example = ",".join(columns.required)
    if not filled:
        raise reject(source, f"the file is empty: expected a header row (e.g. {example}) followed by data rows")
    header_row, header_values = filled[0]
    names = [_column_name(value) for value in header_values]
    _check_header(source, header_row, names, columns)
    data = filled[1:]
    if not data:
        raise reject(source, "the file has a header row but no data rows", row=header_row)

    width = len(names)
    named = [(index, name) for index, name in enumerate(names) if name]
    rows = []
    for number, values in data:
        last_filled = max(i for i, v in enumerate(values) if not is_blank(v))
        if last_filled >= width:
            problems.add(
                number,
                "",
                f"has a value in position {last_filled + 1} but the header names only {width} columns"
                " (a separator too many, or an unquoted value containing one?)",
            )
        for index, name in enumerate(names[: len(values)]):
            if not name and not is_blank(values[index]):
                problems.add(number, f"#{index + 1}", "holds a value but this column has no name in the header")
        rows.append(Row(number, {name: values[index] if index < len(values) else None for index, name in named}))
    return Table(source, header_row, tuple(name for _, name in named), rows)


def _column_name(value: Cell) -> str:
    # a stray BOM survives some editors' "UTF-8" exports inside the first cell
    return "" if value is None else str(value).replace("\ufeff", "").strip().lower()


def _check_header(source: str, row: int, names: Sequence[str], columns: Columns) -> None:
    found: list[Problem] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name:
            continue
        if name in seen:
            found.append(Problem(row, name, f"appears twice in the header (columns {seen[name]} and {position})"))
        seen.setdefault(name, position)
    unknown = [name for name in seen if name not in columns.accepted]
    if unknown:
        found.append(
            Problem(
                row,
                "",
                f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"the accepted columns are: {', '.join(columns.accepted)}",
            )
        )
    missing = [name for name in columns.required if name not in seen]
    if missing:
        found.append(
            Problem(
                row,
                "",
                f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
                "(the first non-empty row must be the header naming the columns)",
            )
        )
    if found:
        raise ImportRejected(source, found)


# ----------------------------------------------------------------------------------------------- CSV


def _read_csv(data: bytes, source: str) -> list[tuple[int, list[Cell]]]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise reject(source, f"the file is UTF-16 text, not UTF-8: {SAVE_AS_UTF8}")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise reject(
            source,
            f"the file is not valid UTF-8 text (byte 0x{byte} cannot be decoded; it was probably saved "
            f"as Windows-1252/Latin-1 or another encoding): {SAVE_AS_UTF8}",
            row=line,
            column=_column_at(data, exc.start),
        ) from None
    if "\x00" in content:
        line = content.count("\n", 0, content.index("\x00")) + 1
        raise reject(source, f"the file contains NUL bytes, so it is not CSV text: {SAVE_AS_UTF8}", row=line)
    delimiter = _delimiter(content)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[Cell]]] = []
    start = 1
    try:
        for values in reader:
            records.append((start, list(values)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise reject(source, f"cannot be read as CSV: {exc}", row=reader.line_num) from None
    return records


def _delimiter(content: str) -> str:
    """',' or ';' — whichever the header line uses more (Excel in many locales writes ';')."""
    first = next((line for line in content.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _column_at(data: bytes, offset: int) -> str:
    """The header name of the column holding byte ``offset`` (best effort: '' when unclear)."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    header_end = data.find(b"\n")
    if line_start == 0 or header_end < 0:
        return ""
    try:
        header = data[:header_end].decode("utf-8")
        prefix = data[line_start:offset].decode("utf-8")
    except UnicodeDecodeError:
        return ""
    delimiter = _delimiter(header)
    names = next(csv.reader([header], delimiter=delimiter), [])
    # the undecodable byte sits in the last (partly read) field of the line so far
    index = max(len(next(csv.reader([prefix], delimiter=delimiter), [])) - 1, 0)
    return _column_name(names[index]) if 0 <= index < len(names) else ""


# ---------------------------------------------------------------------------------------------- xlsx


def _read_xlsx(path: Path, source: str) -> list[tuple[int, list[Cell]]]:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (
        "the file is not a readable Excel .xlsx workbook ({}): open it in Excel and save it again as .xlsx, "
        "or as CSV UTF-8"
    )
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise reject(source, unreadable.format(_reason(exc))) from None
    try:
        if not workbook.worksheets:
            raise reject(source, "the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Some writers declare wrong sheet dimensions; reading without them sees every cell.
        sheet.reset_dimensions()  # type: ignore[union-attr]
        return [(number, list(values)) for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    except ImportRejected:
        raise
    except Exception as exc:
        # A damaged sheet can fail inside openpyxl's XML parsing with many exception types;
        # whatever it is, the user's remedy is the same.
        raise reject(source, unreadable.format(_reason(exc))) from None
    finally:
        workbook.close()


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
