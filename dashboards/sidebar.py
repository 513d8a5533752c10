"""Dashboards stage: the sidebar every page shares — who is signed in, and the filters every page honours."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from crm_app.services.visibility import Viewer
from dashboards import data
from dashboards.auth import Scope
from dashboards.data import Filters, NoWarehouseError, WarehouseError
from dashboards.session import FILTERS_KEY, sign_out

ROLE_NAMES = {
    "admin": "Administrator",
    "executive": "Executive",
    "manager": "Manager",
    "sales_rep": "Sales rep",
    "service_agent": "Service agent",
    "marketing_analyst": "Marketing analyst",
}


def render(viewer: Viewer, scope: Scope) -> Filters:
    """Draw the sidebar and return the filters (also kept in session state for the pages)."""
    with st.sidebar:
        st.markdown("**Filters**")
        try:
            filters = _filters(scope)
        except NoWarehouseError:
            st.caption("Filters appear once a warehouse is published.")
            today = dt.date.today()
            filters = Filters(start=data.default_start(today), end=today)
        except WarehouseError as exc:
            st.caption(f"Filters unavailable: {exc}")
            today = dt.date.today()
            filters = Filters(start=data.default_start(today), end=today)
        st.divider()
        st.markdown(f"**{viewer.full_name or viewer.username}** · {ROLE_NAMES.get(viewer.role, viewer.role)}")
        st.caption(f"You see {scope.label}.")
        if st.button("Sign out", icon=":material/logout:", key="sign-out"):
            sign_out()
            st.rerun()
    st.session_state[FILTERS_KEY] = filters
    return filters


def _filters(scope: Scope) -> Filters:
    as_of = data.as_of_date()
    default = (data.default_start(as_of), as_of)
    chosen = st.date_input(
        "Date range",
        value=default,
        max_value=as_of,
        key="filter-dates",
        help=f"Figures are as of {as_of:%Y-%m-%d}, the date of the last warehouse refresh.",
    )
    if isinstance(chosen, tuple) and len(chosen) == 2:
        start, end = chosen
    elif isinstance(chosen, tuple) and len(chosen) == 1:
        start, end = chosen[0], as_of  # the user is still picking the end date
    elif isinstance(chosen, dt.date):
        start, end = chosen, as_of
    else:
        start, end = default

    department_ids: tuple[int, ...] = ()
    if scope.owner_id is None:
        depts = data.departments(scope)
        labels = {
            int(row.department_id): "· " * int(row.depth or 0) + str(row.department_name) for row in depts.itertuples()
        }
        picked = st.multiselect(
            "Department",
            options=list(labels),
            format_func=lambda d: labels.get(d, str(d)),
            key="filter-departments",
            placeholder="All departments" if scope.all_rows else "All of your departments",
            help="Includes the sub-departments of each department you choose.",
        )
        department_ids = data.subtree(picked)
    regions = st.multiselect("Region", options=data.regions(), key="filter-regions", placeholder="All regions")
    cats = data.categories()
    cat_labels = {int(r.category_id): str(r.category_name) for r in cats.itertuples()}
    category_ids = st.multiselect(
        "Product category",
        options=list(cat_labels),
        format_func=lambda c: cat_labels.get(c, str(c)),
        key="filter-categories",
        placeholder="All categories",
        help="Sales figures count only these categories; customer lists keep customers who bought them.",
    )
    return Filters(
        start=start,
        end=end,
        department_ids=tuple(department_ids),
        regions=tuple(regions),
        category_ids=tuple(int(c) for c in category_ids),
    )
