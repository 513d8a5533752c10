"""Dashboards stage: care list — which customers should we thank, encourage or talk to, and who acts?
Creates the care tasks for the owners through the CRM's service layer (a second click creates nothing)."""

from __future__ import annotations

import streamlit as st

from crm_app.db import get_engine, session_scope
from crm_app.errors import CrmError
from crm_app.services.care import CareItem, care_tasks_for, create_care_tasks, may_create_care_tasks
from dashboards import data, ui
from dashboards.session import require

viewer, scope, filters = require()

st.title("Care list")

KINDS = {
    "problem": "Problem customers — talk to them",
    "value_changing": "Value changing — encourage them",
    "value": "Value customers — thank them",
}
PAGE_ROWS = ui.TABLE_ROWS


def _items(frame) -> list[CareItem]:  # type: ignore[no-untyped-def]
    return [
        CareItem(
            account_id=int(r.account_id),
            reason_kind=str(r.reason_kind),
            reason=str(r.reason),
            period=f"{r.as_of_date:%Y-%m-%d}",
            owner_id=None if r.owner_id is None or r.owner_id != r.owner_id else int(r.owner_id),
            account_name=str(r.account_name),
        )
        for r in frame.itertuples()
    ]


def render() -> None:
    as_of = data.as_of_date()
    period = f"{as_of:%Y-%m-%d}"
    notes = data.not_applied(filters, data.CUSTOMERS)
    ui.filters_caption(
        [f"Care list as of {as_of:%d %b %Y}", f"scope: {scope.label}"]
        + ([f"not applied here: {', '.join(notes)}"] if notes else [])
    )
    counts = data.care_counts(scope, filters)
    cols = st.columns(3)
    for column, (kind, label) in zip(cols, KINDS.items(), strict=True):
        with column:
            ui.kpi(label.split(" — ")[0], ui.count(counts.get(kind, 0)), label.split(" — ")[1], delta_color="off")
    if not sum(counts.values()):
        ui.empty("Nobody needs care right now in your scope: no problems, no sharp changes, no top customers to thank.")
        return

    kinds = st.pills(
        "Show",
        options=list(KINDS),
        format_func=lambda k: KINDS[k].split(" — ")[0],
        selection_mode="multi",
        default=list(KINDS),
        key="care-kinds",
    )
    if not kinds:
        ui.empty("Choose at least one kind of care above.")
        return
    total = sum(counts.get(k, 0) for k in kinds)
    pages = max(1, -(-total // PAGE_ROWS))
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="care-page"))
    rows = data.care_rows(scope, filters, kinds, limit=PAGE_ROWS, offset=(page - 1) * PAGE_ROWS)
    with session_scope(get_engine()) as session:
        existing = care_tasks_for(session, viewer, period)
    shown = rows.assign(task_created=rows["dedupe_key"].isin(list(existing)))
    ui.table(
        shown.drop(columns=["owner_id", "dedupe_key", "as_of_date", "account_id"]),
        key="care-rows",
        file_name=f"care_list_{period}.csv",
        full=lambda: data.care_rows(scope, filters, kinds),
        total_rows=total,
        overrides={"reason": st.column_config.TextColumn("reason", width="large")},
    )

    with st.container(border=True):
        st.markdown("**Create care tasks for the owners**")
        if not may_create_care_tasks(viewer):
            st.caption("Your role reads the care list; managers, sales reps and service agents create the care tasks.")
            return
        missing = len(set(data.care_keys(scope, filters, kinds)) - set(existing))
        st.caption(
            f"One open task per row (all {total:,} rows of the kinds chosen, not only this page), due in a week, "
            "assigned to the row's owner. Rows that already have a task are skipped."
        )
        if st.button(
            f"Create care tasks ({max(missing, 0):,} new)",
            icon=":material/add_task:",
            type="primary",
            key="care-create",
        ):
            try:
                items = _items(data.care_rows(scope, filters, kinds))
                with session_scope(get_engine()) as session:
                    result = create_care_tasks(session, viewer, items)
            except CrmError as exc:
                st.error(str(exc))
            else:
                st.session_state["care-result"] = result.describe()
                st.rerun()
        if st.session_state.get("care-result"):
            st.success(st.session_state["care-result"])


ui.guard(render)
