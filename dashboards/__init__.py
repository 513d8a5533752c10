"""Streamlit dashboards reading the published warehouse (read-only)."""
