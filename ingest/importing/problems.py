"""Data in (CSV/Excel import): the problems found in a file, collected and reported all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crm_app.errors import ValidationError

# A user fixing a file wants to see many problems per attempt, but a wholly wrong file (say, the
# wrong kind of export) would otherwise print a hundred thousand lines.
MAX_LISTED = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (file row, column name) and what."""

    row: int  # the file's line (CSV) or sheet row (xlsx), header = 1; 0 = the file as a whole
    column: str  # "" when the problem concerns the whole row or file
    message: str

    @property
    def location(self) -> str:
        if self.row <= 0:
            return ""
        return f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ImportRejected(ValidationError):
    """A file that cannot be imported; nothing was written. ``problems`` lists everything found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p.row)  # stable: keeps column order within a row
        errors: dict[str, str] = {}
        for problem in self.problems:
            errors.setdefault(problem.location or "file", problem.message)
        super().__init__(render(source, self.problems), errors)


def render(source: str, problems: Sequence[Problem]) -> str:
    """The message a user reads: every problem (up to MAX_LISTED) on a line of its own."""
    if len(problems) == 1:
        return f"{source}: nothing was imported: {problems[0]}"
    lines = [f"{source}: nothing was imported; {len(problems)} problems found:"]
    lines += [f"  {problem}" for problem in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    return "\n".join(lines)


class Problems:
    """Collects problems while a whole file is checked, so the user sees them all in one go."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[Problem] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.items.append(Problem(row, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportRejected(self.source, self.items)


def reject(source: str, message: str, row: int = 0, column: str = "") -> ImportRejected:
    """An ImportRejected for a single problem (a file that cannot be read at all)."""
    return ImportRejected(source, [Problem(row, column, message)])
