"""Dashboards stage: the sign-in page, the only page shown to someone not signed in."""

from __future__ import annotations

import streamlit as st

from dashboards.auth import LoginError, authenticate
from dashboards.session import sign_in
from dashboards.ui import preload_script

st.title("CRM dashboards")
st.caption("Sign in with your CRM account (the same username and password as the CRM app).")

with st.form("login", border=True, width=420):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

# While the user types, let the browser fetch and compile the biggest chart and table code the pages use
# (Streamlit loads it on first use, which would otherwise add seconds to the first page after sign-in).
st.html(preload_script(), unsafe_allow_javascript=True)

if submitted:
    try:
        viewer = authenticate(username or "", password or "", address=st.context.ip_address or "unknown")
    except LoginError as exc:
        st.error(str(exc), icon=":material/lock:")
    else:
        sign_in(viewer)
        st.rerun()
