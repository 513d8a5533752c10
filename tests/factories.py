"""Small builders of valid records for tests (through the service layer where a rule applies)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.models import Account, Department, PipelineStage, Product, ProductCategory, User

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def department(session: Session, **values: Any) -> Department:
    n = _n()
    record = Department(**{"name": f"Department {n}", "code": f"D{n}", **values})
    session.add(record)
    session.flush()
    return record


def user(session: Session, role: str = "sales_rep", **values: Any) -> User:
    n = _n()
    record = User(**{"username": f"user{n}", "full_name": f"User {n}", "role": role, **values})
    session.add(record)
    session.flush()
    return record


def account(session: Session, **values: Any) -> Account:
    n = _n()
    record = Account(**{"name": f"Account {n}", "kind": "customer", "lifecycle_stage": "prospect", **values})
    session.add(record)
    session.flush()
    return record


def category(session: Session, **values: Any) -> ProductCategory:
    n = _n()
    record = ProductCategory(**{"name": f"Category {n}", "code": f"C{n}", **values})
    session.add(record)
    session.flush()
    return record


def product(session: Session, list_price: str = "100.00", unit_cost: str = "60.00", **values: Any) -> Product:
    n = _n()
    record = Product(
        **{
            "sku": f"SKU-{n}",
            "name": f"Product {n}",
            "list_price": Decimal(list_price),
            "unit_cost": Decimal(unit_cost),
            **values,
        }
    )
    session.add(record)
    session.flush()
    return record


def stage(session: Session, name: str) -> PipelineStage:
    found = session.scalar(select(PipelineStage).where(PipelineStage.name == name))
    assert found is not None, f"no stage {name!r} in the default pipeline"
    return found
