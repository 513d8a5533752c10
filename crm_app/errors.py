"""Errors the business layer raises; the CLI, pages and API turn them into clear messages."""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error a user should see as a message rather than a traceback."""


class ConfigurationError(CrmError):
    """Settings that cannot work (bad database URL, missing secret)."""


class ValidationError(CrmError):
    """Input that breaks a rule; ``errors`` maps field name to message."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class ConflictError(CrmError):
    """An update based on a stale version of a record, or a duplicate of something unique."""


class NotFoundError(CrmError):
    """A record that does not exist or that the user may not see."""


class PermissionDeniedError(CrmError):
    """An action the user's role does not allow on a record they may see."""
