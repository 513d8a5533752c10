"""Web layer: every page of the app — hand-crafted ones first, then the generic pages of each resource."""

from __future__ import annotations

from fastapi import APIRouter

from crm_app.services.registry import RESOURCES
from crm_app.web.generic import add_resource_routes
from crm_app.web.pages import customers, sales, service, supply

# pages a hand-crafted route already serves, per resource
HAND_CRAFTED: dict[str, set[str]] = {
    "accounts": {"detail"},
    "opportunities": {"detail"},
    "quotes": {"new", "detail", "edit"},
    "orders": {"new", "detail"},
    "cases": {"detail"},
    "campaigns": {"detail"},
    "surveys": {"detail"},
    "survey_responses": {"new"},
    "document_templates": {"new", "detail", "edit"},
    "purchase_orders": {"new", "detail"},
}

generic = APIRouter(include_in_schema=False)
for name, spec in RESOURCES.items():
    add_resource_routes(generic, spec, HAND_CRAFTED.get(name, set()))
# in the order a request tries them: a hand-crafted page before the generic one of the same path
routers = (customers.router, sales.router, service.router, supply.router, generic)
