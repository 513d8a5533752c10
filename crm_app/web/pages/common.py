"""Web layer helpers shared by the hand-crafted pages: forms read as dicts, document line parsing."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app.errors import ValidationError
from crm_app.models import Product
from crm_app.schemas import field_errors
from crm_app.web.forms import form_lists


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Depends(read_form)

LINE_KEYS = ("product_id", "quantity", "unit_price", "discount_pct", "description")


def form_dict(form: FormData, *keys: str) -> dict[str, Any]:
    """The named fields of a form, blank ones left out (so schema defaults apply)."""
    values: dict[str, Any] = {}
    for key in keys:
        raw = form.get(key)
        if isinstance(raw, str) and raw.strip() != "":
            values[key] = raw.strip()
    return values


def line_rows(form: FormData, keys: tuple[str, ...] = LINE_KEYS) -> list[dict[str, Any]]:
    rows = []
    for row in form_lists(form, "lines", keys):
        if not row.get("product_id") and not row.get("description") and not row.get("unit_price"):
            continue  # a row where only a quantity was typed (or nothing) is not a line
        cleaned = {k: v for k, v in row.items() if v != ""}
        cleaned.setdefault("quantity", "1")
        rows.append(cleaned)
    return rows


def validate(schema: type[BaseModel], payload: dict[str, Any]) -> Any:
    """``schema`` applied to ``payload``; failures become the app's ValidationError with per-field messages."""
    try:
        return schema.model_validate(payload)
    except PydanticValidationError as exc:
        errors = field_errors(exc)
        raise ValidationError("Please correct: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors) from None


def product_options(session: Session) -> list[tuple[int, str, Any]]:
    rows = session.execute(
        select(Product.id, Product.name, Product.sku, Product.list_price)
        .where(Product.deleted_at.is_(None), Product.is_active)
        .order_by(Product.name)
        .limit(1000)
    ).all()
    return [(row.id, f"{row.name} ({row.sku})", row.list_price) for row in rows]


def blank_lines(lines: list[dict[str, Any]] | None, minimum: int = 5) -> list[dict[str, Any]]:
    lines = list(lines or [])
    while len(lines) < minimum:
        lines.append({})
    return lines
