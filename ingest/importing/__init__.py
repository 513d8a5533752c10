"""Data in (CSV/Excel import): accounts and orders files, validated whole and imported all-or-nothing."""

from ingest.importing.common import ImportResult
from ingest.importing.problems import ImportRejected, Problem

__all__ = ["ImportRejected", "ImportResult", "Problem"]
