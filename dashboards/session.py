"""Dashboards stage: who is signed in, their scope and the sidebar's filters, as pages read them."""

from __future__ import annotations

import time

import streamlit as st

from crm_app.services.visibility import Viewer
from dashboards.auth import Scope, refresh_viewer, scope_for
from dashboards.data import Filters

VIEWER_KEY = "viewer"
FILTERS_KEY = "filters"
CHECKED_KEY = "viewer_checked_at"
RECHECK_SECONDS = 60.0


def current_viewer() -> Viewer | None:
    """The signed-in viewer, re-read from the CRM now and then so a disabled account is signed out."""
    viewer = st.session_state.get(VIEWER_KEY)
    if not isinstance(viewer, Viewer):
        return None
    checked = float(st.session_state.get(CHECKED_KEY, 0.0))
    if time.monotonic() - checked > RECHECK_SECONDS:
        fresh = refresh_viewer(viewer)
        st.session_state[CHECKED_KEY] = time.monotonic()
        if fresh is None:
            sign_out()
            return None
        st.session_state[VIEWER_KEY] = fresh
        viewer = fresh
    return viewer


def sign_in(viewer: Viewer) -> None:
    st.session_state[VIEWER_KEY] = viewer
    st.session_state[CHECKED_KEY] = time.monotonic()


def sign_out() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def require() -> tuple[Viewer, Scope, Filters]:
    """What a page needs; stops the page (showing nothing) when nobody is signed in."""
    viewer = current_viewer()
    filters = st.session_state.get(FILTERS_KEY)
    if viewer is None or not isinstance(filters, Filters):
        st.warning("Please sign in to see the dashboards.")
        st.stop()
    return viewer, scope_for(viewer), filters
