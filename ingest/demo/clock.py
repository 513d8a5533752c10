"""Data in (demo data): the story's calendar; times are float days since the first day of history."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400
FUTURE_MONTHS = 6  # plans, campaigns and due dates reach this far beyond today


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Clock:
    """``now`` ends the story; history starts ``months`` months before it, at midnight."""

    now: dt.datetime
    months: int
    start: dt.date = field(init=False)
    month_starts: np.ndarray = field(init=False, repr=False)  # day offsets of the 1st of each month

    def __post_init__(self) -> None:
        start = add_months(self.now.date(), -self.months)
        object.__setattr__(self, "start", start)
        first = start.replace(day=1)
        count = self.months + FUTURE_MONTHS + 2
        offsets = [(add_months(first, i) - start).days for i in range(count)]
        object.__setattr__(self, "month_starts", np.array(offsets, dtype=np.float64))

    @property
    def end(self) -> float:
        """Now, in days since the start."""
        return (self.now - dt.datetime.combine(self.start, dt.time())).total_seconds() / SECONDS_PER_DAY

    @property
    def today(self) -> float:
        """Midnight of today, in days since the start."""
        return float((self.now.date() - self.start).days)

    @property
    def current_month(self) -> int:
        return int(self.month(np.array([self.end]))[0])

    def month(self, days: np.ndarray) -> np.ndarray:
        """Index of the calendar month of each time (0 = the month history starts in)."""
        return np.searchsorted(self.month_starts, days, side="right") - 1

    def month_date(self, index: int) -> dt.date:
        return add_months(self.start.replace(day=1), index)

    def office(self, days: np.ndarray, *, planned: bool = False) -> np.ndarray:
        """Business time of each moment: the same day, squeezed into 08:00–18:00, never after now — except
        for ``planned`` moments (when an open task falls due), which may lie ahead.

        The mapping keeps order (t1 <= t2 gives office(t1) <= office(t2)) and the calendar day, so a
        story told in continuous time stays consistent once stamped: nothing moves before its cause.
        """
        days = np.asarray(days, dtype=np.float64)
        day = np.floor(days)
        business = day + (8 + 10 * (days - day)) / 24
        return business if planned else np.minimum(business, self.end)

    def datetimes(self, days: np.ndarray) -> pa.Array:
        """Times as SQLAlchemy stores a DateTime (``YYYY-MM-DD HH:MM:SS.ffffff``), to the second; NaN → NULL."""
        days = np.asarray(days, dtype=np.float64)
        missing = np.isnan(days)
        seconds = np.rint(np.where(missing, 0, days) * SECONDS_PER_DAY).astype(np.int64)
        stamps = np.datetime64(self.start, "s") + seconds.astype("timedelta64[s]")
        text = pa.array(stamps, mask=missing if missing.any() else None).cast(pa.string())  # "YYYY-MM-DD HH:MM:SS"
        return pc.binary_join_element_wise(text, pa.scalar(".000000"), "")

    def dates(self, days: np.ndarray) -> pa.Array:
        """The calendar day of each time, as ``YYYY-MM-DD``; NaN → NULL."""
        days = np.asarray(days, dtype=np.float64)
        missing = np.isnan(days)
        offsets = np.floor(np.where(missing, 0, days)).astype(np.int64)
        values = np.datetime64(self.start, "D") + offsets.astype("timedelta64[D]")
        return pa.array(values, mask=missing if missing.any() else None).cast(pa.string())

    def date_values(self, days: np.ndarray) -> np.ndarray:
        return np.datetime64(self.start, "D") + np.floor(days).astype(np.int64).astype("timedelta64[D]")

    def timestamp(self, day: float) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time()) + dt.timedelta(seconds=round(day * SECONDS_PER_DAY))
