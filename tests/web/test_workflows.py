"""The hand-crafted pages doing real work: board moves, losing a deal, quote → order, payments, cases,
repeating tasks, evaluation scores, custom fields, the contact centre and batch e-mail through SMTP."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.models import (
    Activity,
    Campaign,
    CampaignMember,
    Case,
    Communication,
    Contact,
    CustomFieldDefinition,
    Opportunity,
    OpportunityStageHistory,
    Order,
    Payment,
    Quote,
    SurveyQuestion,
)
from tests.browser import free_port
from tests.web.world import World


def _version(client, url: str) -> int:  # type: ignore[no-untyped-def]
    return int(client.get(url).json()["version"])


def test_board_move_writes_stage_history_and_losing_needs_reason_and_competitor(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    deal = world.records["opportunities"][0].id
    board = client.get("/opportunities/board")
    assert board.status_code == 200 and "Deal Alpha Rep1" in board.text
    version = _version(client, f"/api/v1/opportunities/{deal}")
    moved = client.post(
        f"/opportunities/{deal}/stage",
        data={"stage_id": world.stages["Proposal"], "version": version},
        headers={"X-CSRF-Token": client.csrf, "Accept": "application/json"},
    )
    assert moved.status_code == 200, moved.text
    lost_stage = world.stages["Lost"]
    no_reason = client.form_post(
        f"/opportunities/{deal}/stage", {"stage_id": lost_stage, "version": moved.json()["version"]}
    )
    assert no_reason.status_code == 303 and "/lose" in no_reason.headers["location"]
    assert "lost reason" in client.get(no_reason.headers["location"]).text.lower()
    no_competitor = client.api(
        "POST",
        f"/api/v1/opportunities/{deal}/stage",
        json={"stage_id": lost_stage, "version": moved.json()["version"], "lost_reason": "competitor"},
    )
    assert no_competitor.status_code == 422
    assert "competitor_id" in no_competitor.json()["errors"]
    competitor = world.records["competitors"][0].id
    lost = client.form_post(
        f"/opportunities/{deal}/stage",
        {
            "stage_id": lost_stage,
            "version": moved.json()["version"],
            "lost_reason": "competitor",
            "competitor_id": competitor,
        },
    )
    assert lost.status_code == 303
    with Session(engine) as session:
        opp = session.get(Opportunity, deal)
        assert opp is not None and opp.status == "lost" and opp.lost_reason == "competitor"
        assert opp.competitor_id == competitor
        stages = session.scalars(
            select(OpportunityStageHistory.to_stage_id)
            .where(OpportunityStageHistory.opportunity_id == deal)
            .order_by(OpportunityStageHistory.id)
        ).all()
        assert stages[-2:] == [world.stages["Proposal"], lost_stage]


def test_quote_with_lines_converts_to_order_and_payment_settles_the_ledger(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    account = world.records["accounts"][0].id
    product = world.records["products"][0].id
    form = client.get(f"/quotes/new?account_id={account}")
    assert form.status_code == 200 and "Lines" in form.text
    created = client.form_post(
        "/quotes/new",
        {
            "account_id": account,
            "lines-0-product_id": product,
            "lines-0-quantity": "3",
            "lines-0-discount_pct": "10",
            "lines-1-description": "Installation",
            "lines-1-unit_price": "50",
        },
    )
    assert created.status_code == 303, created.text[:2000]
    quote_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/quotes/{quote_id}")
    assert "320.00" in page.text  # 3 × 100 − 10 % + 50
    version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))
    converted = client.form_post(f"/quotes/{quote_id}/convert", {"version": version, "channel": "direct"})
    assert converted.status_code == 303
    order_id = int(converted.headers["location"].rsplit("/", 1)[1])
    again = client.form_post(f"/quotes/{quote_id}/convert", {"version": version + 1})
    assert again.status_code == 303
    assert "already converted" in client.get(f"/quotes/{quote_id}").text
    too_much = client.form_post(f"/orders/{order_id}/payments", {"amount": "999", "paid_on": dt.date.today()})
    assert too_much.status_code == 303
    assert "exceeds" in client.get(f"/orders/{order_id}").text
    paid = client.form_post(
        f"/orders/{order_id}/payments", {"amount": "120", "paid_on": dt.date.today(), "method": "card"}
    )
    assert paid.status_code == 303
    order_page = client.get(f"/orders/{order_id}").text
    assert "Payment recorded." in order_page
    assert "200.00" in order_page  # outstanding after 120 of 320
    ledger = client.get("/ledger?outstanding=true").text
    with Session(engine) as session:
        order = session.get(Order, order_id)
        assert order is not None and order.total_amount == Decimal("320.00") and order.quote_id == quote_id
        assert session.get(Quote, quote_id).status == "converted"  # type: ignore[union-attr]
        assert session.scalar(select(func.sum(Payment.amount)).where(Payment.order_id == order_id)) == Decimal("120")
        assert order.number in ledger


def test_return_of_a_sale_cannot_exceed_what_was_sold(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    order_id = world.records["orders"][0].id
    with Session(engine) as session:
        line_id = session.get(Order, order_id).lines[0].id  # type: ignore[union-attr]
    too_many = client.form_post(f"/orders/{order_id}/returns", {f"return-{line_id}": "5"})
    assert too_many.status_code == 303 and too_many.headers["location"] == f"/orders/{order_id}"
    ok = client.form_post(f"/orders/{order_id}/returns", {f"return-{line_id}": "1"})
    assert ok.status_code == 303 and ok.headers["location"] != f"/orders/{order_id}"
    with Session(engine) as session:
        returns = session.scalars(select(Order).where(Order.return_of_id == order_id)).all()
        assert len(returns) == 1 and returns[0].total_amount == Decimal("100.00")


def test_case_workflow_requires_resolution_and_satisfaction_at_closing(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    case_id = world.records["cases"][0].id

    def step(action: str, **extra: object):  # type: ignore[no-untyped-def]
        version = _version(client, f"/api/v1/cases/{case_id}")
        return client.form_post(f"/cases/{case_id}/transition", {"action": action, "version": version, **extra})

    assert step("start").status_code == 303
    step("resolve")
    assert "resolution" in client.get(f"/cases/{case_id}").text.lower()
    step("resolve", resolution="Replaced the part")
    step("close")
    assert "satisfaction" in client.get(f"/cases/{case_id}").text.lower()
    step("close", satisfaction=4)
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == "closed" and case.satisfaction == 4
        assert case.resolution == "Replaced the part" and case.closed_at is not None


def test_repeating_task_shows_each_occurrence_and_completing_one_keeps_the_series(
    world: World, sign_in, engine
) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=2), dt.time(9, 0))
    bad = client.api("POST", "/api/v1/activities", json={"subject": "Weekly call", "recurrence_rule": "FREQ=SOMETIMES"})
    assert bad.status_code == 422 and "repeat rule" in str(bad.json())
    created = client.api(
        "POST",
        "/api/v1/activities",
        json={
            "subject": "Daily stand-up",
            "kind": "task",
            "due_at": start.isoformat(),
            "recurrence_rule": "FREQ=DAILY",
        },
    )
    assert created.status_code == 201, created.text
    my_day = client.get("/").text
    assert my_day.count(">Daily stand-up</a>") == 3  # two overdue occurrences and today's
    done = client.form_post(
        f"/activities/{created.json()['id']}/done",
        {"occurrence": start.isoformat(), "version": created.json()["version"], "back": "/"},
    )
    assert done.status_code == 303
    after = client.get("/").text
    assert "Done: Daily stand-up" in after
    assert after.count(">Daily stand-up</a>") == 2
    with Session(engine) as session:
        parent = session.get(Activity, created.json()["id"])
        assert parent is not None and parent.status == "open"
        child = session.scalar(select(Activity).where(Activity.recurrence_parent_id == parent.id))
        assert child is not None and child.status == "done" and child.due_at == start


def test_evaluation_response_scores_the_opportunity(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("analyst")
    survey = world.records["surveys"][0].id
    with Session(engine) as session:
        session.add(SurveyQuestion(survey_id=survey, position=2, text="Fit?", kind="rating", max_score=Decimal(5)))
        session.commit()
        questions = session.scalars(select(SurveyQuestion).where(SurveyQuestion.survey_id == survey)).all()
    deal = world.records["opportunities"][0].id
    answers = {f"q-{q.id}": ("yes" if q.kind == "yes_no" else "3") for q in questions}
    missing = client.form_post(f"/surveys/{survey}/respond", {"opportunity_id": deal})
    assert missing.status_code == 422 and "required" in missing.text
    saved = client.form_post(f"/surveys/{survey}/respond", {"opportunity_id": deal, **answers})
    assert saved.status_code == 303
    with Session(engine) as session:
        opp = session.get(Opportunity, deal)
        assert opp is not None and opp.evaluation_score == Decimal("80.00")  # (1 + 3/5) / 2


def test_custom_fields_appear_on_forms_and_detail_pages_and_are_checked(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in("admin")
    created = admin.form_post(
        "/custom_fields/new",
        {"entity": "contacts", "name": "shoe_size", "label": "Shoe size", "field_type": "number", "required": "on"},
    )
    assert created.status_code == 303, created.text[:1500]
    rep = sign_in("rep1")
    account = world.records["accounts"][0].id
    form = rep.get(f"/contacts/new?account_id={account}")
    assert "Shoe size" in form.text
    refused = rep.form_post(
        "/contacts/new", {"account_id": account, "first_name": "Ada", "last_name": "Lace", "custom.shoe_size": "big"}
    )
    assert refused.status_code == 422 and "must be a number" in refused.text
    saved = rep.form_post(
        "/contacts/new", {"account_id": account, "first_name": "Ada", "last_name": "Lace", "custom.shoe_size": "42"}
    )
    assert saved.status_code == 303
    detail = rep.get(saved.headers["location"]).text
    assert "Shoe size" in detail and "42" in detail
    with Session(engine) as session:
        contact = session.scalar(select(Contact).where(Contact.first_name == "Ada"))
        assert contact is not None and contact.custom == {"shoe_size": 42}
        assert session.scalar(select(func.count()).select_from(CustomFieldDefinition)) == 2


def test_contact_centre_logs_a_call_on_the_account_timeline(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("agent")
    account = next(r.id for r in world.records["accounts"] if r.owner == world.users["agent"])
    assert client.get(f"/contact-centre?account_id={account}").status_code == 200
    logged = client.form_post(
        "/contact-centre/log",
        {
            "account_id": account,
            "channel": "phone",
            "direction": "inbound",
            "status": "received",
            "subject": "Wants a callback",
        },
    )
    assert logged.status_code == 303
    assert "Wants a callback" in client.get(f"/accounts/{account}").text


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[object] = []

    class Collect(Message):
        def handle_message(self, message: object) -> None:
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def test_batch_send_delivers_email_through_smtp_and_records_each_message(
    world: World, app, engine, sign_in, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    port, received = smtp_server
    app.state.settings = app.state.settings.model_copy(update={"smtp_port": port})
    campaign = world.records["campaigns"][0].id
    template = world.records["templates"][0].id
    with Session(engine) as session:
        for contact in session.scalars(select(Contact)):
            contact.email = f"{contact.last_name.lower()}@customer.example.com"
        session.commit()
    client = sign_in("analyst")
    sent = client.form_post(
        "/contact-centre/batch", {"template_id": template, "campaign_id": campaign, "only_status": "targeted"}
    )
    assert sent.status_code == 303
    assert "3 sent" in client.get(sent.headers["location"]).text
    assert len(received) == 3
    recipients = sorted(str(m["To"]) for m in received)  # type: ignore[index]
    assert recipients == ["alpha@customer.example.com", "bravo@customer.example.com", "charlie@customer.example.com"]
    first = next(m for m in received if str(m["To"]).startswith("alpha"))  # type: ignore[index]
    assert str(first["Subject"]) == "Hello Pat Alpha"  # type: ignore[index]
    with Session(engine) as session:
        logged = session.scalars(select(Communication).where(Communication.campaign_id == campaign)).all()
        assert {c.status for c in logged} == {"sent"} and len(logged) == 3
        members = session.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign)).all()
        assert {m.status for m in members} == {"sent"}
    # a second run finds nobody left to target: nothing goes out twice
    client.form_post(
        "/contact-centre/batch", {"template_id": template, "campaign_id": campaign, "only_status": "targeted"}
    )
    assert len(received) == 3


def test_batch_send_records_failures_when_the_mail_server_is_down(world: World, engine, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("analyst")
    campaign = world.records["campaigns"][0].id
    response = client.api(
        "POST",
        "/api/v1/communications/batch-send",
        json={"template_id": world.records["templates"][0].id, "campaign_id": campaign},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["sent"] == 0 and body["failed"] == 3
    with Session(engine) as session:
        assert session.scalar(select(func.count()).where(Communication.status == "failed")) == 3
        assert {m.status for m in session.scalars(select(CampaignMember))} == {"targeted"}
        assert session.get(Campaign, campaign) is not None
