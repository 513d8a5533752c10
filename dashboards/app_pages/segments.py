"""Dashboards stage: segment explorer — build a customer segment from 7P/RFM/value columns, save it, export it,
and hand it to a campaign (campaign members created through the CRM's service layer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import plotly.express as px
import streamlit as st

from crm_app.db import get_engine, session_scope
from crm_app.errors import CrmError
from crm_app.services import segments as segment_service
from crm_app.services.visibility import can_write
from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Segment explorer")

COLUMNS_KEY = "segment-columns"
LOADED_KEY = "segment-loaded"
PREVIEW_COLUMNS = (
    "account_name",
    "external_ref",
    "owner_name",
    "region",
    "value_tier",
    "segment",
    "p_alive",
    "t12m_net_revenue",
    "predicted_clv",
    "potential_value",
)
NOT_FILTERABLE = frozenset({"account_id", "owner_id", "department_id", "department_path", "external_ref"})
SUGGESTED = ("value_tier", "segment", "profiling_churn_risk_band", "region", "predicted_clv", "p_alive")


COLUMN_LABELS = {"segment": "RFM segment", "p_alive": "P(alive)", "rfm_cell": "RFM cell", "rfm_total": "RFM total"}


def _label(column: str) -> str:
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    for prefix in ("profiling", "persistence", "profitability", "performance", "prospecting", "product", "promotion"):
        if column.startswith(prefix + "_"):
            return f"{prefix.title()} · {column[len(prefix) + 1 :].replace('_', ' ')}"
    return column.replace("_", " ").capitalize()


def _widget_key(column: str) -> str:
    return f"segment-filter-{column}"


def _load(segment_id: int | None) -> None:
    """Put a saved segment's filters into the builder's widgets (runs before they are drawn)."""
    for key in [k for k in st.session_state if str(k).startswith("segment-filter-")]:
        del st.session_state[key]
    st.session_state[LOADED_KEY] = segment_id
    if segment_id is None:
        st.session_state[COLUMNS_KEY] = []
        return
    with session_scope(get_engine()) as session:
        saved = segment_service.get_segment(session, viewer, segment_id)
        definition = dict(saved.definition)
        st.session_state["segment-name"] = saved.name
        st.session_state["segment-description"] = saved.description or ""
    chosen = []
    for flt in segment_service.parse_definition(definition):
        chosen.append(flt.column)
        key = _widget_key(flt.column)
        if flt.op in {"in", "not_in"}:
            st.session_state[key] = list(flt.value)
        elif flt.op == "between":
            low, high = flt.value
            if isinstance(low, str) or isinstance(high, str):
                st.session_state[key] = tuple(dt.date.fromisoformat(v) for v in (low, high) if v)
            else:
                st.session_state[key + "-low"] = low
                st.session_state[key + "-high"] = high
        elif flt.op == "eq":
            st.session_state[key] = flt.value
    st.session_state[COLUMNS_KEY] = chosen


def _on_pick_saved() -> None:
    choice = st.session_state.get("segment-saved")
    _load(int(choice) if isinstance(choice, int) and choice else None)


def _filter_widget(column: str, kind: str) -> dict[str, Any] | None:
    key = _widget_key(column)
    label = _label(column)
    if kind == "text":
        options = data.segment_choices(column)
        current = [v for v in st.session_state.get(key, []) if v in options]
        st.session_state[key] = current
        picked = st.multiselect(label, options=options, key=key, placeholder="Any value")
        return {"column": column, "op": "in", "value": picked} if picked else None
    if kind == "number":
        low_default, high_default = data.segment_range(column)
        left, right = st.columns(2)
        low = left.number_input(
            f"{label} from", value=None, key=key + "-low", placeholder=f"min {ui.number(low_default, 2)}"
        )
        high = right.number_input(
            f"{label} to", value=None, key=key + "-high", placeholder=f"max {ui.number(high_default, 2)}"
        )
        if low is None and high is None:
            return None
        return {"column": column, "op": "between", "value": [low, high]}
    if kind == "date":
        dates = st.date_input(label, value=[], key=key)
        if isinstance(dates, tuple) and len(dates) == 2:
            return {"column": column, "op": "between", "value": [dates[0].isoformat(), dates[1].isoformat()]}
        return None
    if kind == "bool":
        picked_bool = st.selectbox(label, options=[True, False], index=None, key=key, placeholder="Any")
        return None if picked_bool is None else {"column": column, "op": "eq", "value": picked_bool}
    return None


def export(definition: dict[str, Any], columns: list[str]) -> bytes:
    """Every member with every column, through the segments service's export."""
    members = data.segment_members(scope, filters, definition, columns, limit=None)
    return segment_service.members_csv(list(members.columns), members.itertuples(index=False))


def _saved_segments() -> list[Any]:
    with session_scope(get_engine()) as session:
        return [
            (s.id, s.name, s.owner_id, s.version, segment_service.describe_definition(s.definition))
            for s in segment_service.list_segments(session, viewer)
        ]


def render() -> None:
    as_of = data.as_of_date()
    _, columns = data.segment_base()
    ui.filters_caption(
        [f"Customers as of {as_of:%d %b %Y}", f"scope: {scope.label}", "sidebar department, region and category apply"]
    )

    saved = _saved_segments()
    names = {row[0]: f"{row[1]} — {row[4]}" for row in saved}
    st.selectbox(
        "Start from a saved segment",
        options=[0, *names],
        format_func=lambda i: "— a new segment —" if i == 0 else names.get(i, str(i)),
        key="segment-saved",
        on_change=_on_pick_saved,
    )

    filterable = [c for c in columns if c not in NOT_FILTERABLE]
    if COLUMNS_KEY not in st.session_state:
        st.session_state[COLUMNS_KEY] = [c for c in SUGGESTED[:2] if c in filterable]
    missing = [c for c in st.session_state[COLUMNS_KEY] if c not in filterable]
    if missing:
        st.warning(
            f"This segment filtered on {', '.join(missing)}, which the warehouse's customer marts no longer have; "
            "those filters are left out below — check the segment and save it again.",
            icon=":material/warning:",
        )
    st.session_state[COLUMNS_KEY] = [c for c in st.session_state[COLUMNS_KEY] if c in filterable]
    chosen = st.multiselect(
        "Filter on",
        options=filterable,
        format_func=_label,
        key=COLUMNS_KEY,
        help="7P columns (by P), RFM scores and segments, and customer value columns.",
    )
    conditions = []
    with st.container(border=True):
        if not chosen:
            st.caption("No filter yet: the segment is every customer in your scope.")
        for column in chosen:
            condition = _filter_widget(column, columns[column])
            if condition is not None:
                conditions.append(condition)
    definition = {"filters": conditions}
    try:
        described = segment_service.describe_definition(definition)
        summary = data.segment_count(scope, filters, definition)
    except CrmError as exc:  # a reversed range, a column the warehouse no longer has: say so, show nothing
        st.error(str(exc))
        return
    st.caption(f"Segment: {described}")
    cols = st.columns(4)
    with cols[0]:
        ui.kpi("Customers in segment", ui.count(summary["customers"]))
    with cols[1]:
        ui.kpi_money("Net revenue (12 months)", summary["t12m_net_revenue"])
    with cols[2]:
        ui.kpi_money("Predicted CLV", summary["predicted_clv"])
    with cols[3]:
        ui.kpi("Average P(alive)", ui.percent(summary["avg_p_alive"]) if summary["customers"] else "—")

    if not summary["customers"]:
        ui.empty("No customer matches these filters; widen a range or pick more values.")
        return

    left, right = st.columns([1, 2])
    with left:
        tiers = data.segment_tiers(scope, filters, definition)
        fig = px.pie(
            tiers,
            names="value_tier",
            values="customers",
            hole=0.5,
            title="By value tier",
            color="value_tier",
            color_discrete_map=ui.TIER_COLOURS,
        )
        ui.chart(fig, key="segment-tiers", height=300)
    with right:
        shown = [c for c in PREVIEW_COLUMNS if c in columns] + [c for c in chosen if c not in PREVIEW_COLUMNS]
        preview = data.segment_members(scope, filters, definition, shown, limit=ui.TABLE_ROWS)
        ui.table(
            preview,
            key="segment-members",
            title="Members (most valuable first)",
            file_name="segment.csv",
            csv=lambda: export(definition, list(columns)),
            total_rows=int(summary["customers"]),
        )

    save_col, send_col = st.columns(2)
    with save_col, st.container(border=True):
        st.markdown("**Save this segment**")
        loaded = st.session_state.get(LOADED_KEY)
        mine = next((row for row in saved if row[0] == loaded and row[2] == viewer.id), None)
        with st.form("segment-save", border=False):
            name = st.text_input("Name", key="segment-name", max_chars=segment_service.MAX_NAME)
            description = st.text_input("Description (optional)", key="segment-description")
            overwrite = st.checkbox(
                "Update the loaded segment instead of saving a new one", value=False, disabled=mine is None
            )
            submitted = st.form_submit_button("Save segment", icon=":material/save:")
        if submitted:
            try:
                with session_scope(get_engine()) as session:
                    segment = segment_service.save_segment(
                        session,
                        viewer,
                        name,
                        definition,
                        description=description,
                        segment_id=mine[0] if (overwrite and mine) else None,
                        expected_version=mine[3] if (overwrite and mine) else None,
                    )
                    message = f"Saved segment {segment.name!r}."
                    st.session_state[LOADED_KEY] = segment.id
            except CrmError as exc:
                st.error(str(exc))
            else:
                st.success(message)
    with send_col, st.container(border=True):
        st.markdown("**Send to a campaign**")
        if not can_write(viewer, "campaign_members"):
            st.caption("Your role may read campaigns but not add their members; ask marketing.")
            return
        with session_scope(get_engine()) as session:
            open_campaigns = [
                (c.id, f"{c.name} ({c.status})") for c in segment_service.campaigns_open_for_targeting(session, viewer)
            ]
        if not open_campaigns:
            st.caption("There is no planned or active campaign to send to; create one in the CRM app first.")
            return
        labels = dict(open_campaigns)
        campaign_id = st.selectbox(
            "Campaign", options=list(labels), format_func=lambda i: labels[i], key="segment-campaign"
        )
        label = st.session_state.get("segment-name") or "Segment " + dt.date.today().isoformat()
        st.caption(f"Members are added as 'targeted' with source segment “{label}”; existing members stay as they are.")
        if st.button(f"Add {int(summary['customers']):,} customers to the campaign", icon=":material/send:"):
            try:
                ids = data.segment_member_ids(scope, filters, definition)
                with session_scope(get_engine()) as session:
                    result = segment_service.send_to_campaign(session, viewer, int(campaign_id), ids, label)
            except CrmError as exc:
                st.error(str(exc))
            else:
                st.success(result.describe())


ui.guard(render)
