"""Dashboards stage: the Streamlit entry point — sign-in gate, role-based navigation and the shared sidebar.

Run with ``crm serve dashboards`` (or ``streamlit run dashboards/app.py``). Someone not signed in gets the
sign-in page and nothing else: the data pages are not even registered with ``st.navigation`` until then.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboards/app.py` puts dashboards/ on sys.path, not the project root the imports need.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboards import sidebar, warmup  # noqa: E402
from dashboards.auth import pages_for, scope_for  # noqa: E402
from dashboards.session import current_viewer  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"
RUN_KEY = "completed-runs"

# page key → (title, icon, section)
PAGE_INFO = {
    "overview": ("Executive overview", ":material/dashboard:", "Business"),
    "customer_value": ("Customer value & 7P", ":material/diamond:", "Customers"),
    "segments": ("Segment explorer", ":material/filter_alt:", "Customers"),
    "care_list": ("Care list", ":material/volunteer_activism:", "Customers"),
    "funnel": ("Funnel & forecast", ":material/filter_list:", "Sales"),
    "plan": ("Plan vs actual", ":material/flag:", "Sales"),
    "rankings": ("Rankings", ":material/leaderboard:", "Sales"),
    "service": ("Service quality", ":material/support_agent:", "Service & marketing"),
    "marketing": ("Marketing & competitors", ":material/campaign:", "Service & marketing"),
    "data_health": ("Data health", ":material/monitor_heart:", "Warehouse"),
}

st.set_page_config(page_title="CRM dashboards", page_icon=":material/insights:", layout="wide")
warmup.start()

viewer = current_viewer()
if viewer is None:
    login = st.Page(PAGES_DIR / "login.py", title="Sign in", icon=":material/login:", url_path="login", default=True)
    st.navigation([login], position="hidden").run()
else:
    sections: dict[str, list[st.Page]] = {}
    for position, key in enumerate(pages_for(viewer)):
        title, icon, section = PAGE_INFO[key]
        page = st.Page(PAGES_DIR / f"{key}.py", title=title, icon=icon, url_path=key, default=position == 0)
        sections.setdefault(section, []).append(page)
    navigation = st.navigation(sections)
    sidebar.render(viewer, scope_for(viewer))
    try:
        navigation.run()
    finally:
        # An invisible "this run has finished" mark (also after a page failed): browser tests and the speed
        # benchmark wait for a new one after each click instead of guessing when Streamlit is done.
        run = int(st.session_state.get(RUN_KEY, 0)) + 1
        st.session_state[RUN_KEY] = run
        page_key = next((k for k, info in PAGE_INFO.items() if info[0] == navigation.title), navigation.url_path)
        st.html(f'<span class="page-rendered" data-run="{run}" data-page="{page_key}"></span>')
