"""Data in (CSV/Excel import): turning one cell of a file into a typed value, or a readable complaint."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

# What a reader hands over: CSV cells are always text; openpyxl gives numbers, dates and booleans too.
Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | None

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Binary floats from spreadsheet formulas carry noise far below a cent (19.990000000000002);
# anything coarser than this is a real extra decimal place that must not be rounded away silently.
_FLOAT_NOISE = Decimal("1e-9")
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


class CellError(ValueError):
    """A cell that does not hold what its column needs; the message follows 'row N, column C: '."""


def shown(value: Cell) -> str:
    """A cell value as quoted in messages."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return repr(value.isoformat())
    return str(value)


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def text(value: Cell, max_length: int | None = None) -> str | None:
    """Trimmed text, or None for a blank cell; spreadsheet numbers become their digits (1001, not 1001.0)."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        result = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        result = str(int(value))
    elif isinstance(value, dt.datetime) and value.time() == dt.time(0):
        result = value.date().isoformat()
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        result = value.isoformat()
    else:
        result = str(value).strip()
    if max_length is not None and len(result) > max_length:
        raise CellError(f"{shown(result[:30] + '...')} is too long ({len(result)} characters, at most {max_length})")
    return result


def number(value: Cell, *, places: int, max_digits: int) -> Decimal | None:
    """A decimal with at most ``places`` decimals (a dot as decimal point), or None for a blank cell."""
    if is_blank(value):
        return None
    if isinstance(value, bool | dt.date | dt.time):
        raise CellError(f"{shown(value)} is not a number (expected e.g. 1234.56)")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raw = str(value).strip()
        if not _NUMBER.fullmatch(raw):
            hint = " — use a dot as the decimal point" if _COMMA_DECIMAL.fullmatch(raw) else ""
            raise CellError(f"{shown(value)} is not a number (expected e.g. 1234.56{hint})")
        try:
            result = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise CellError(f"{shown(value)} is not a number (expected e.g. 1234.56)") from None
    step = Decimal(1).scaleb(-places)
    rounded = result.quantize(step)
    if abs(rounded - result) > _FLOAT_NOISE:
        raise CellError(f"{shown(value)} has more than {places} decimal places")
    if abs(rounded) >= Decimal(10) ** (max_digits - places):
        raise CellError(f"{shown(value)} is too large")
    return rounded


def date(value: Cell) -> dt.date | None:
    """A date written as YYYY-MM-DD (or a spreadsheet date cell), or None for a blank cell."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = str(value).strip()
    if isinstance(value, str) and _ISO_DATE.fullmatch(raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise CellError(f"{shown(value)} is not a date (expected YYYY-MM-DD)")


def choice(value: Cell, allowed: Sequence[str]) -> str | None:
    """One of ``allowed`` (matched without regard to case), or None for a blank cell."""
    raw = text(value)
    if raw is None:
        return None
    by_fold = {option.casefold(): option for option in allowed}
    found = by_fold.get(raw.casefold())
    if found is None:
        raise CellError(f"{shown(raw)} is not one of: {', '.join(allowed)}")
    return found


def boolean(value: Cell) -> bool | None:
    """true/false, yes/no, 1/0 (or a spreadsheet boolean), or None for a blank cell."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    raw = text(value)
    folded = (raw or "").casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(f"{shown(value)} is not a yes/no value (expected true or false)")
