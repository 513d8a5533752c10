"""Write-back from the dashboards: segments saved and sent to campaigns, care tasks created for owners —
through the CRM's service layer, visible in the operational database, never twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_app.db import get_engine, session_scope
from crm_app.models import Activity, AuditLog, CampaignMember, SavedSegment
from crm_app.services import segments as segment_service
from dashboards import data
from dashboards.auth import scope_for
from tests.dashboards.conftest import Warehouse, metric, open_page, viewer

pytestmark = pytest.mark.slow


def _care_tasks(keys: list[str]) -> int:
    with session_scope(get_engine()) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.purpose == "care", Activity.dedupe_key.in_(keys))
            )
            or 0
        )


# ------------------------------------------------------------------------------------------------ segments


def test_segment_explorer_counts_saves_exports_and_sends_to_a_campaign(dash_env: Warehouse) -> None:
    analyst = viewer("lina.lopez")
    app = open_page(analyst, "segments")
    assert metric(app, "Customers in segment").value == f"{dash_env.value('select count(*) from marts.customer_7p'):,}"

    app.multiselect(key="segment-filter-value_tier").select("top").select("high").run()
    assert not app.exception
    wanted = dash_env.mart(
        "select account_id from marts.customer_value where value_tier in ('top', 'high') order by 1"
    )["account_id"].tolist()
    assert metric(app, "Customers in segment").value == f"{len(wanted):,}"

    # export: the download holds every member with every column, not only the rows on screen
    definition = {"filters": [{"column": "value_tier", "op": "in", "value": ["top", "high"]}]}
    filters = data.Filters(*dash_env.default_range)
    frame = data.segment_members(scope_for(analyst), filters, definition, [], limit=None)
    assert sorted(frame["account_id"]) == wanted
    exported = segment_service.members_csv(list(frame.columns), frame.itertuples(index=False))
    assert exported.decode("utf-8-sig").count("\n") == len(wanted) + 1

    app.text_input(key="segment-name").input("Top and high value")
    app.text_input(key="segment-description").input("for the winter push")
    app.button(key="FormSubmitter:segment-save-Save segment").click().run()
    assert not app.exception
    assert [s.value for s in app.success] == ["Saved segment 'Top and high value'."]
    with session_scope(get_engine()) as session:
        saved = session.scalars(select(SavedSegment).where(SavedSegment.name == "Top and high value")).one()
        assert saved.owner_id == analyst.id and saved.definition == definition

    campaign_id = app.selectbox(key="segment-campaign").value
    send = next(b for b in app.button if str(b.label).startswith("Add "))
    send.click().run()
    assert not app.exception
    with session_scope(get_engine()) as session:
        members = session.execute(
            select(CampaignMember.account_id, CampaignMember.status, CampaignMember.source_segment).where(
                CampaignMember.campaign_id == campaign_id, CampaignMember.source_segment == "Top and high value"
            )
        ).all()
        before = session.scalar(
            select(func.count()).select_from(CampaignMember).where(CampaignMember.campaign_id == campaign_id)
        )
        audited = session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.entity == "campaign_members", AuditLog.user_id == analyst.id)
        )
    added = int(app.success[0].value.split()[0])
    assert added == len(members) > 0 and audited == added
    assert {m.status for m in members} == {"targeted"}
    assert {m.account_id for m in members} <= set(wanted)

    # sending again adds nobody: they are all members already
    next(b for b in app.button if str(b.label).startswith("Add ")).click().run()
    assert app.success[0].value.startswith("0 customers added")
    with session_scope(get_engine()) as session:
        after = session.scalar(
            select(func.count()).select_from(CampaignMember).where(CampaignMember.campaign_id == campaign_id)
        )
    assert after == before


def test_a_saved_segment_loads_back_into_the_builder(dash_env: Warehouse) -> None:
    analyst = viewer("analyst")
    app = open_page(analyst, "segments")
    app.multiselect(key="segment-filter-segment").select("Champions").run()
    app.text_input(key="segment-name").input("Champions only")
    app.button(key="FormSubmitter:segment-save-Save segment").click().run()
    champions = dash_env.value("select count(*) from marts.customer_rfm where segment = 'Champions'")

    fresh = open_page(analyst, "segments")
    saved_id = next(o for o in fresh.selectbox(key="segment-saved").options if "Champions only" in str(o))
    fresh.selectbox(key="segment-saved").select(saved_id).run()
    assert not fresh.exception
    assert fresh.multiselect(key="segment-filter-segment").value == ["Champions"]
    assert metric(fresh, "Customers in segment").value == f"{champions:,}"


def test_a_duplicate_segment_name_is_refused_with_a_message(dash_env: Warehouse) -> None:
    app = open_page(viewer("analyst"), "segments")
    for _ in range(2):
        app.text_input(key="segment-name").input("Everyone")
        app.button(key="FormSubmitter:segment-save-Save segment").click().run()
    assert [e.value for e in app.error] == ["you already have a segment named 'Everyone'"]


def test_an_executive_may_save_but_not_send_to_campaigns(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "segments")
    assert "Your role may read campaigns but not add their members; ask marketing." in [c.value for c in app.caption]
    assert not [b for b in app.button if str(b.label).startswith("Add ")]


# --------------------------------------------------------------------------------------------- care list


def test_care_tasks_are_created_for_the_owners_once(dash_env: Warehouse) -> None:
    manager = viewer("uma.evans")  # Sales North
    scope = scope_for(manager)
    filters = data.Filters(*dash_env.default_range)
    rows = data.care_rows(scope, filters, [])
    assert not rows.empty
    keys = rows["dedupe_key"].tolist()
    first_tab = open_page(manager, "care_list")
    second_tab = open_page(manager, "care_list")  # the same list open in another tab
    assert _care_tasks(keys) == 0

    first_tab.button(key="care-create").click().run()
    assert not first_tab.exception
    assert first_tab.success[0].value.startswith(f"{len(rows)} care tasks created")
    assert _care_tasks(keys) == len(rows)
    assert first_tab.button(key="care-create").label == "Create care tasks (0 new)"  # nothing left to create
    with session_scope(get_engine()) as session:
        tasks = session.scalars(select(Activity).where(Activity.dedupe_key.in_(keys))).all()
        owners = {int(r.account_id): int(r.owner_id) for r in rows.itertuples() if r.owner_id == r.owner_id}
        assert all(t.owner_id == owners.get(t.account_id or 0, manager.id) for t in tasks)
        assert {t.status for t in tasks} == {"open"} and {t.kind for t in tasks} == {"task"}

    # a second click (from the other tab, drawn before the first click) creates nothing
    second_tab.button(key="care-create").click().run()
    assert not second_tab.exception
    assert second_tab.success[0].value == f"0 care tasks created; {len(rows)} already existed (not created again)."
    assert _care_tasks(keys) == len(rows)
    assert bool(second_tab.dataframe[0].value["task_created"].all())


def test_read_only_roles_see_the_care_list_without_the_create_button(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "care_list")
    assert not [b for b in app.button if b.key == "care-create"]
    assert any("create the care tasks" in c.value for c in app.caption)


def test_a_reversed_range_gets_a_clear_message_and_no_figures(dash_env: Warehouse) -> None:
    app = open_page(viewer("analyst"), "segments")
    app.multiselect(key="segment-columns").select("predicted_clv").run()
    app.number_input(key="segment-filter-predicted_clv-low").set_value(5000).run()
    app.number_input(key="segment-filter-predicted_clv-high").set_value(10).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["filter on predicted_clv: the low end 5000 is above the high end 10"]
    assert not [m for m in app.metric if m.label == "Customers in segment"]
    with session_scope(get_engine()) as session:
        assert session.scalar(select(func.count()).select_from(SavedSegment).where(SavedSegment.name == "")) == 0


def test_a_segment_on_a_vanished_column_is_flagged_not_silently_widened(dash_env: Warehouse) -> None:
    analyst = viewer("analyst")
    with session_scope(get_engine()) as session:
        session.add(
            SavedSegment(
                name="Old churn model",
                owner_id=analyst.id,
                definition={"filters": [{"column": "old_churn_score", "op": "between", "value": [0.5, None]}]},
            )
        )
    app = open_page(analyst, "segments")
    saved_id = next(o for o in app.selectbox(key="segment-saved").options if "Old churn model" in str(o))
    app.selectbox(key="segment-saved").select(saved_id).run()
    assert not app.exception
    assert any("old_churn_score" in w.value and "no longer have" in w.value for w in app.warning)
