"""Saved segments: definitions checked and compiled to SQL, saved per owner, sent to campaigns once."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import AuditLog, Campaign, CampaignMember, SavedSegment
from crm_app.services import segments
from crm_app.services.visibility import viewer_for
from tests import factories

COLUMNS = {"rfm_segment": "text", "predicted_clv": "number", "region": "text", "first_order_date": "date"}


def _campaign(session: Session, status: str = "active") -> Campaign:
    campaign = Campaign(name=f"Winter push {status}", kind="email", status=status, start_date=dt.date(2026, 11, 1))
    session.add(campaign)
    session.flush()
    return campaign


def _members(session: Session, campaign: Campaign) -> list[tuple[int, str, str | None]]:
    rows = session.execute(
        select(CampaignMember.account_id, CampaignMember.status, CampaignMember.source_segment)
        .where(CampaignMember.campaign_id == campaign.id)
        .order_by(CampaignMember.account_id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ definitions


def test_compiled_filters_select_the_matching_customers_in_duckdb() -> None:
    con = duckdb.connect()
    con.execute(
        "create table base as select * from (values (1, 'Champions', 900.0, 'North', date '2024-01-05'),"
        " (2, 'At Risk', 1500.0, 'North', date '2025-03-01'), (3, 'Champions', 2500.0, 'South', date '2023-07-09'),"
        " (4, null, 50.0, 'North', null)) t(account_id, rfm_segment, predicted_clv, region, first_order_date)"
    )
    definition = {
        "filters": [
            {"column": "rfm_segment", "op": "in", "value": ["Champions", "At Risk"]},
            {"column": "predicted_clv", "op": "between", "value": [1000, None]},
        ]
    }
    where, params = segments.compile_filters(definition, COLUMNS)
    assert con.execute(f"select account_id from base where {where} order by 1", params).fetchall() == [(2,), (3,)]

    dated = {"filters": [{"column": "first_order_date", "op": "between", "value": ["2024-01-01", "2025-12-31"]}]}
    where, params = segments.compile_filters(dated, COLUMNS)
    assert con.execute(f"select account_id from base where {where} order by 1", params).fetchall() == [(1,), (2,)]

    excluded = {"filters": [{"column": "rfm_segment", "op": "not_in", "value": ["Champions"]}]}
    where, params = segments.compile_filters(excluded, COLUMNS)
    assert con.execute(f"select account_id from base where {where} order by 1", params).fetchall() == [(2,), (4,)]

    text = {"filters": [{"column": "region", "op": "contains", "value": "sou"}]}
    where, params = segments.compile_filters(text, COLUMNS)
    assert con.execute(f"select account_id from base where {where}", params).fetchall() == [(3,)]

    assert segments.compile_filters({"filters": []}, COLUMNS) == ("true", [])


def test_injection_through_a_filter_value_is_only_data() -> None:
    con = duckdb.connect()
    con.execute("create table base as select 1 as account_id, 'x' as rfm_segment")
    evil = {"filters": [{"column": "rfm_segment", "op": "in", "value": ["x' or 1=1; drop table base; --"]}]}
    where, params = segments.compile_filters(evil, COLUMNS)
    assert con.execute(f"select count(*) from base where {where}", params).fetchone() == (0,)
    assert con.execute("select count(*) from base").fetchone() == (1,)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"filters": [{"column": "no_such", "op": "eq", "value": 1}]}, "no longer have"),
        ({"filters": [{"column": "Robert'); drop", "op": "eq", "value": 1}]}, "not a column name"),
        ({"filters": [{"column": "region", "op": "like", "value": "x"}]}, "unknown operator"),
        ({"filters": [{"column": "rfm_segment", "op": "in", "value": []}]}, "at least one value"),
        ({"filters": [{"column": "predicted_clv", "op": "between", "value": [5, 1]}]}, "above the high end"),
        ({"filters": [{"column": "predicted_clv", "op": "between", "value": ["a", None]}]}, "expected a number"),
        ({"filters": [{"column": "predicted_clv", "op": "between", "value": [None, None]}]}, "low end, a high end"),
        ({"filters": [{"column": "predicted_clv", "op": "contains", "value": "9"}]}, "does not apply"),
        ({"filters": "rfm_segment=Champions"}, "must be a list"),
        ([1, 2], "an object"),
    ],
)
def test_bad_definitions_get_a_clear_message(definition: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        segments.compile_filters(definition, COLUMNS)


def test_definitions_read_as_words() -> None:
    definition = {
        "filters": [
            {"column": "rfm_segment", "op": "in", "value": ["Champions", "Loyal"]},
            {"column": "predicted_clv", "op": "between", "value": [1000, None]},
        ]
    }
    assert segments.describe_definition(definition) == "rfm segment is Champions or Loyal; predicted clv ≥ 1000"


# ------------------------------------------------------------------------------------------- saving


def test_save_update_and_delete_a_segment_with_audit(session: Session) -> None:
    analyst = factories.user(session, role="marketing_analyst")
    session.commit()
    viewer = viewer_for(session, analyst)
    definition = {"filters": [{"column": "rfm_segment", "op": "in", "value": ["At Risk"]}]}
    saved = segments.save_segment(session, viewer, "  At   risk  ", definition, description="win back")
    session.commit()
    assert (saved.name, saved.owner_id, saved.definition) == ("At risk", analyst.id, definition)

    changed = {"filters": [*definition["filters"], {"column": "region", "op": "eq", "value": "North"}]}
    segments.save_segment(session, viewer, "At risk North", changed, segment_id=saved.id, expected_version=1)
    session.commit()
    assert [s.name for s in segments.list_segments(session, viewer)] == ["At risk North"]

    segments.delete_segment(session, viewer, saved.id, expected_version=2)
    session.commit()
    assert segments.list_segments(session, viewer) == []
    actions = session.scalars(select(AuditLog.action).where(AuditLog.entity == "saved_segments").order_by(AuditLog.id))
    assert list(actions) == ["create", "update", "delete"]
    # the name is free again once the segment is deleted
    segments.save_segment(session, viewer, "At risk North", changed)
    session.commit()


def test_duplicate_name_stale_edit_and_foreign_segment_are_refused(session: Session) -> None:
    analyst = factories.user(session, role="marketing_analyst")
    colleague = factories.user(session, role="marketing_analyst")
    session.commit()
    mine, theirs = viewer_for(session, analyst), viewer_for(session, colleague)
    definition = {"filters": [{"column": "region", "op": "eq", "value": "North"}]}
    saved = segments.save_segment(session, mine, "North", definition)
    session.commit()

    with pytest.raises(ValidationError, match="already have a segment named 'North'"):
        segments.save_segment(session, mine, "North", definition)
    session.rollback()
    with pytest.raises(PermissionDeniedError, match="belongs to someone else"):
        segments.save_segment(session, theirs, "Mine now", definition, segment_id=saved.id)
    session.rollback()
    segments.save_segment(session, theirs, "North", definition)  # same name, other owner: fine
    session.commit()
    from crm_app.errors import ConflictError

    with pytest.raises(ConflictError):
        segments.save_segment(session, mine, "North 2", definition, segment_id=saved.id, expected_version=7)
    session.rollback()
    with pytest.raises(ValidationError, match="give the segment a name"):
        segments.save_segment(session, mine, "   ", definition)
    session.rollback()
    assert sorted(s.name for s in session.scalars(select(SavedSegment))) == ["North", "North"]


def test_field_roles_do_not_use_saved_segments(session: Session) -> None:
    rep = factories.user(session, role="sales_rep")
    session.commit()
    with pytest.raises(PermissionDeniedError):
        segments.list_segments(session, viewer_for(session, rep))
    with pytest.raises(NotFoundError):
        segments.get_segment(session, viewer_for(session, factories.user(session, role="executive")), 999)


# ------------------------------------------------------------------------------------------- sending


def test_send_to_campaign_adds_targeted_members_once(session: Session) -> None:
    analyst = factories.user(session, role="marketing_analyst")
    customers = [factories.account(session) for _ in range(4)]
    campaign = _campaign(session)
    session.add(CampaignMember(campaign_id=campaign.id, account_id=customers[0].id, status="responded"))
    session.commit()
    viewer = viewer_for(session, analyst)
    ids = [c.id for c in customers]

    result = segments.send_to_campaign(session, viewer, campaign.id, ids, "At risk North")
    session.commit()
    assert (result.added, result.already_members, result.not_visible) == (3, 1, 0)
    assert _members(session, campaign) == [
        (customers[0].id, "responded", None),
        *[(c.id, "targeted", "At risk North") for c in customers[1:]],
    ]
    again = segments.send_to_campaign(session, viewer, campaign.id, ids, "At risk North")
    session.commit()
    assert (again.added, again.already_members) == (0, 4)
    assert len(_members(session, campaign)) == 4
    audited = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.entity == "campaign_members"))
    assert audited == 3


def test_manager_sends_only_customers_of_their_department(session: Session) -> None:
    mine, other = factories.department(session), factories.department(session)
    manager = factories.user(session, role="manager", department_id=mine.id)
    inside = factories.account(session, department_id=mine.id)
    outside = factories.account(session, department_id=other.id)
    campaign = _campaign(session)
    session.commit()
    result = segments.send_to_campaign(
        session, viewer_for(session, manager), campaign.id, [inside.id, outside.id], "Mixed"
    )
    session.commit()
    assert (result.added, result.not_visible) == (1, 1)
    assert [m[0] for m in _members(session, campaign)] == [inside.id]


@pytest.mark.parametrize("role", ["executive", "sales_rep", "service_agent"])
def test_roles_without_campaign_rights_cannot_send_and_nothing_changes(session: Session, role: str) -> None:
    user = factories.user(session, role=role)
    customer = factories.account(session, owner_id=user.id)
    campaign = _campaign(session)
    session.commit()
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        segments.send_to_campaign(session, viewer_for(session, user), campaign.id, [customer.id], "Mine")
    session.rollback()
    assert _members(session, campaign) == []


def test_closed_or_missing_campaigns_are_refused(session: Session) -> None:
    analyst = factories.user(session, role="marketing_analyst")
    customer = factories.account(session)
    done = _campaign(session, status="completed")
    session.commit()
    viewer = viewer_for(session, analyst)
    with pytest.raises(ValidationError, match="is completed"):
        segments.send_to_campaign(session, viewer, done.id, [customer.id], "Any")
    with pytest.raises(NotFoundError):
        segments.send_to_campaign(session, viewer, 987654, [customer.id], "Any")
    session.rollback()
    assert _members(session, done) == []
    assert [c.id for c in segments.campaigns_open_for_targeting(session, viewer)] == []


def test_members_csv_is_spreadsheet_friendly() -> None:
    data = segments.members_csv(["account_id", "name"], [(1, "Café Müller"), (2, None)])
    assert data.decode("utf-8") == "\ufeffaccount_id,name\r\n1,Café Müller\r\n2,\r\n"
