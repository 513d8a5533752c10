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

router = APIRouter(include_in_schema=False)
for module in (customers, sales, service, supply):
    router.include_router(module.router)
for name, spec in RESOURCES.items():
    add_resource_routes(router, spec, HAND_CRAFTED.get(name, set()))
