"""Dashboards stage: the sign-in page, the only page shown to someone not signed in."""

from __future__ import annotations

import streamlit as st

from dashboards.auth import LoginError, authenticate
from dashboards.session import sign_in

st.title("CRM dashboards")
st.caption("Sign in with your CRM account (the same username and password as the CRM app).")

with st.form("login", border=True, width=420):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        viewer = authenticate(username or "", password or "", address=st.context.ip_address or "unknown")
    except LoginError as exc:
        st.error(str(exc), icon=":material/lock:")
    else:
        sign_in(viewer)
        st.rerun()
