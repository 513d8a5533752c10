"""Input and output schemas of every entity (pydantic): the one validation for forms and the JSON API."""

from crm_app.schemas.base import Schema, field_errors
from crm_app.schemas.entities import *  # noqa: F403

__all__ = ["Schema", "field_errors"]
