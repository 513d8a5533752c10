"""Web layer: Jinja2 environment, formatting filters, navigation per role and flash messages."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from crm_app.services.visibility import Viewer, can_read, can_write
from crm_app.web.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{amount:,.2f}"


def short_money(value: Any) -> str:
    """12.3k / 4.5M: for board headers and tiles, where space is short."""
    if value is None:
        return "—"
    amount = float(value)
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(amount) >= limit:
            return f"{amount / limit:,.1f}{suffix}"
    return f"{amount:,.0f}"


def date(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return _day(value.date())
    if isinstance(value, dt.date):
        return _day(value)
    return str(value)


@functools.lru_cache(maxsize=8192)
def _day(value: dt.date) -> str:
    """A day as the pages write it, kept once written: a page shows hundreds of dates (board cards, timelines),
    most of them the same few days, and ``strftime`` costs ten times a look-up."""
    return value.strftime("%d %b %Y")


def datetime(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return value.strftime("%d %b %Y %H:%M")
    return date(value)


def month(value: Any) -> str:
    return value.strftime("%b %Y") if isinstance(value, dt.date) else date(value)


def percent(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)):.1f} %"


def probability(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f} %"


def humanize(value: Any) -> str:
    if value is None:
        return "—"
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def badge(value: Any) -> Markup:
    if value is None:
        return Markup("—")
    return Markup('<span class="badge badge-{}">{}</span>').format(str(value), humanize(value))


def with_query(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def nl2br(value: Any) -> Markup:
    if not value:
        return Markup("")
    return Markup("<br>").join(escape(str(value)).split("\n"))


templates.env.filters.update(
    money=money,
    short_money=short_money,
    date=date,
    datetime=datetime,
    month=month,
    percent=percent,
    probability=probability,
    humanize=humanize,
    badge=badge,
    nl2br=nl2br,
)

# (section, [(label, url, entity that must be readable, admin-only in the menu)])
NAV: list[tuple[str, list[tuple[str, str, str | None, bool]]]] = [
    ("", [("My day", "/", None, False)]),
    (
        "Customers",
        [("Accounts", "/accounts", "accounts", False), ("Contacts", "/contacts", "contacts", False)],
    ),
    (
        "Sales",
        [
            ("Pipeline board", "/opportunities/board", "opportunities", False),
            ("Opportunities", "/opportunities", "opportunities", False),
            ("Quotes", "/quotes", "quotes", False),
            ("Orders", "/orders", "orders", False),
            ("Order ledger", "/ledger", "orders", False),
        ],
    ),
    (
        "Service",
        [("Cases", "/cases", "cases", False), ("Activities & tasks", "/activities", "activities", False)],
    ),
    (
        "Marketing",
        [
            ("Campaigns", "/campaigns", "campaigns", False),
            ("Contact centre", "/contact-centre", "communications", False),
            ("Message templates", "/templates", "templates", False),
            ("Surveys", "/surveys", "surveys", False),
            ("Competitors", "/competitors", "competitors", False),
        ],
    ),
    (
        "Catalogue",
        [
            ("Products", "/products", "products", False),
            ("Categories", "/product_categories", "product_categories", False),
            ("Price policies", "/price_policies", "price_policies", False),
            ("Quote templates", "/document_templates", "document_templates", False),
        ],
    ),
    (
        "Partners & suppliers",
        [
            ("Partners", "/partners", "accounts", False),
            ("Suppliers", "/suppliers", "accounts", False),
            ("Purchase orders", "/purchase_orders", "purchase_orders", False),
        ],
    ),
    (
        "Management",
        [
            ("Sales plans", "/sales_plans", "sales_plans", False),
            ("Plan vs actual", "/sales_plans/report", "sales_plans", False),
        ],
    ),
    (
        "Administration",
        [
            ("Users", "/users", "users", True),
            ("Departments", "/departments", "departments", True),
            ("Custom fields", "/custom_fields", "custom_fields", True),
            ("Pipeline stages", "/pipeline_stages", "pipeline_stages", True),
        ],
    ),
]


def navigation_html(viewer: Viewer, path: str) -> Markup:
    """The side menu of ``viewer``, the entries for the page at ``path`` marked active: written once per role and
    set of active entries (every page shows the menu: ~30 entries, each several template steps)."""
    active = frozenset(url for _, items in _navigation(viewer.role) for _, url in items if _is_active(url, path))
    return _navigation_html(viewer.role, active)


BOARD = "/opportunities/board"


def _is_active(url: str, path: str) -> bool:
    """An entry is active on its own page and the pages under it (the board is not one of the deals' list)."""
    if path == url:
        return True
    return url != "/" and path.startswith(url + "/") and not (url == "/opportunities" and path.startswith(BOARD))


@functools.lru_cache(maxsize=512)
def _navigation_html(role: str, active: frozenset[str]) -> Markup:
    parts = []
    for section, items in _navigation(role):
        if section:
            parts.append(f'\n    <div class="nav-section">{escape(section)}</div>')
        for label, url in items:
            link = "nav-link active" if url in active else "nav-link"
            parts.append(f'\n      <a href="{escape(url)}" class="{link}">{escape(label)}</a>')
    return Markup("".join(parts))


@functools.cache
def _navigation(role: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The menu of a role (what a role may read is fixed in code: worked out once per role)."""
    viewer = Viewer(id=0, role=role, department_id=None)
    sections = []
    for title, items in NAV:
        shown = [
            (label, url)
            for label, url, entity, admin_only in items
            if (entity is None or can_read(viewer, entity)) and (not admin_only or viewer.is_admin)
        ]
        if shown:
            sections.append((title, shown))
    return sections


def flash(request: Request, message: str, kind: str = "success") -> None:
    messages = list(request.session.get("flash") or [])
    messages.append([kind, message])
    request.session["flash"] = messages[-5:]


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    ctx: dict[str, Any] = {
        "viewer": viewer,
        "csrf_token": csrf_token(request.session),
        "flashes": request.session.pop("flash", None) or [],
        "nav_html": navigation_html(viewer, request.url.path) if viewer else "",
        "with_query": lambda **kw: with_query(request, **kw),
        "can_write": (lambda entity: can_write(viewer, entity)) if viewer else (lambda entity: False),
        "can_read": (lambda entity: can_read(viewer, entity)) if viewer else (lambda entity: False),
        "today": dt.date.today(),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
