"""Web layer: hand-crafted service and marketing pages — case workflow, campaigns, contact centre, surveys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from crm_app import schemas as s
from crm_app.errors import NotFoundError
from crm_app.models import CampaignMember, Contact, Template
from crm_app.models.marketing import CHANNELS, COMMUNICATION_STATUSES, DIRECTIONS, MEMBER_STATUSES
from crm_app.services import campaigns, cases, communications
from crm_app.services import resources as res
from crm_app.services.registry import resource
from crm_app.services.visibility import can_read, can_write, get_visible, restrict
from crm_app.web.deps import CurrentUser, SessionDep
from crm_app.web.forms import ref_options
from crm_app.web.generic import detail_context, guarded, int_param, table
from crm_app.web.lanes import run_slow
from crm_app.web.pages.common import FormDep, form_dict, validate
from crm_app.web.rendering import flash, redirect, render

router = APIRouter()


# --------------------------------------------------------------------------------------------- cases


@router.get("/cases/{case_id:int}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("cases")
    record = res.get(session, viewer, spec, case_id)
    context = detail_context(session, viewer, spec, record)
    context.update(
        actions=cases.available_actions(record) if can_write(viewer, "cases") else [],
        action_labels=cases.ACTION_LABELS,
    )
    return render(request, "case_detail.html", context)


@router.post("/cases/{case_id:int}/transition", response_model=None)
def case_transition(
    request: Request, case_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    record = get_visible(session, viewer, "cases", case_id)

    def act() -> Any:
        data = validate(s.CaseTransition, form_dict(form, "action", "version", "resolution", "satisfaction"))
        return cases.transition(
            session,
            viewer,
            record,
            data.action,
            data.version,
            resolution=data.resolution,
            satisfaction=data.satisfaction,
        )

    return guarded(act, request, session, f"/cases/{case_id}", "Case updated.")


# ----------------------------------------------------------------------------------------- campaigns


@router.get("/campaigns/{campaign_id:int}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("campaigns")
    record = res.get(session, viewer, spec, campaign_id)
    context = detail_context(session, viewer, spec, record)
    members = session.scalars(
        restrict(select(CampaignMember).where(CampaignMember.campaign_id == record.id), viewer, "campaign_members")
        .order_by(CampaignMember.id)
        .limit(200)
    ).all()
    member_spec = resource("campaign_members")
    context.update(
        stats=campaigns.campaign_stats(session, viewer, record),
        members=table(session, viewer, member_spec, list(members)),
        member_statuses=MEMBER_STATUSES,
        templates=session.scalars(select(Template).where(Template.deleted_at.is_(None)).order_by(Template.name)).all(),
        can_members=can_write(viewer, "campaign_members"),
        can_send=can_write(viewer, "communications") and can_write(viewer, "campaign_members"),
    )
    return render(request, "campaign_detail.html", context)


@router.post("/campaigns/{campaign_id:int}/members", response_model=None)
def campaign_add_members(
    request: Request, campaign_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    campaign = get_visible(session, viewer, "campaigns", campaign_id)
    raw = str(form.get("account_ids") or "")
    ids = [int(part) for part in raw.replace(",", " ").split() if part.isdigit() and int(part) < 2**31]

    def act() -> Any:
        if not ids:
            from crm_app.errors import ValidationError

            raise ValidationError("give the accounts to add (ids, separated by commas)", {"account_ids": "required"})
        added = campaigns.add_members(session, viewer, campaign, ids)
        flash(request, f"{added} account(s) added to the campaign.")

    return guarded(act, request, session, f"/campaigns/{campaign_id}")


@router.post("/campaign_members/{member_id:int}/status", response_model=None)
def member_status(
    request: Request, member_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    member = get_visible(session, viewer, "campaign_members", member_id)
    status = str(form.get("status") or "")
    version = int_param(form.get("version"), 0, 0, 2**31 - 1) or None
    return guarded(
        lambda: campaigns.set_member_status(session, viewer, member, status, version),
        request,
        session,
        f"/campaigns/{member.campaign_id}",
        "Member status changed.",
    )


# ------------------------------------------------------------------------------------ contact centre


@router.get("/contact-centre", response_class=HTMLResponse)
def contact_centre(request: Request, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    return _contact_centre(request, session, viewer, dict(request.query_params), {}, None)


def _contact_centre(
    request: Request,
    session: Any,
    viewer: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    message: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    if not can_read(viewer, "communications"):
        raise NotFoundError("the contact centre is not available to you")
    spec = resource("communications")
    recent = res.list_page(session, viewer, spec, res.ListParams(page_size=15, filters={}))
    account_id = int_param(values.get("account_id"), 0, 0, 2**31 - 1) or None
    contacts = []
    account_label = None
    if account_id:
        contacts = list(
            session.scalars(
                restrict(select(Contact).where(Contact.account_id == account_id), viewer, "contacts").limit(200)
            )
        )
        account_label = res.ref_labels(session, viewer, {"accounts": {account_id}})["accounts"].get(account_id)
    return render(
        request,
        "contact_centre.html",
        {
            "rows": table(session, viewer, spec, recent.items),
            "resource": spec,
            "values": values,
            "errors": errors,
            "message": message,
            "channels": CHANNELS,
            "directions": DIRECTIONS,
            "statuses": COMMUNICATION_STATUSES,
            "contacts": contacts,
            "account_label": account_label,
            "templates": session.scalars(
                select(Template).where(Template.deleted_at.is_(None)).order_by(Template.name)
            ).all(),
            "campaigns": ref_options(session, viewer, "campaigns"),
            "placeholders": communications.PLACEHOLDERS,
            "title": "Contact centre",
        },
        status_code=status_code,
    )


@router.post("/contact-centre/log", response_model=None)
def log_communication(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    from crm_app.errors import ConflictError, PermissionDeniedError, ValidationError

    values = form_dict(
        form,
        "channel",
        "direction",
        "status",
        "account_id",
        "contact_id",
        "template_id",
        "to_address",
        "subject",
        "body",
        "occurred_at",
    )
    try:
        data = validate(s.CommunicationCreate, values)
        record = res.create(session, viewer, resource("communications"), data)
        session.commit()
    except (ValidationError, ConflictError, PermissionDeniedError) as exc:
        session.rollback()
        return _contact_centre(request, session, viewer, values, getattr(exc, "errors", {}), str(exc), 422)
    flash(request, f"{record.channel.upper()} logged.")
    if record.account_id:
        return redirect(f"/accounts/{record.account_id}#timeline")
    return redirect("/contact-centre")


@router.post("/contact-centre/batch", response_model=None)
async def batch_send(request: Request, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep) -> Response:
    values = form_dict(form, "template_id", "campaign_id", "only_status")
    values.setdefault("only_status", None)
    settings = request.app.state.settings
    smtp = communications.SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_sender)

    def act() -> Any:
        data = validate(s.BatchSend, values)
        result = communications.batch_send(
            session, viewer, data.template_id, data.campaign_id, smtp, only_status=data.only_status
        )
        flash(request, f"Batch send: {result.describe()}.", "success" if not result.failed else "error")
        for line in result.errors[:5]:
            flash(request, line, "error")

    back = f"/campaigns/{values['campaign_id']}" if str(values.get("campaign_id", "")).isdigit() else "/contact-centre"
    # seconds of SMTP: not on the process's request thread (crm_app/web/lanes.py)
    return await run_slow(request, guarded, act, request, session, back)


# ------------------------------------------------------------------------------------------- surveys


@router.get("/surveys/{survey_id:int}", response_class=HTMLResponse)
def survey_page(request: Request, survey_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    spec = resource("surveys")
    record = res.get(session, viewer, spec, survey_id)
    context = detail_context(session, viewer, spec, record)
    context.update(
        questions=record.questions,
        can_questions=can_write(viewer, "survey_questions"),
        can_respond=can_write(viewer, "survey_responses") and record.is_active,
    )
    return render(request, "survey_detail.html", context)


@router.get("/surveys/{survey_id:int}/respond", response_class=HTMLResponse)
def survey_respond(request: Request, survey_id: int, session: SessionDep, viewer: CurrentUser) -> HTMLResponse:
    return _respond_page(request, session, viewer, survey_id, dict(request.query_params), {}, None)


def _respond_page(
    request: Request,
    session: Any,
    viewer: Any,
    survey_id: int,
    values: dict[str, Any],
    errors: dict[str, str],
    message: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    survey = get_visible(session, viewer, "surveys", survey_id)
    subject: dict[str, Any] = {}
    for key, entity in (("opportunity_id", "opportunities"), ("account_id", "accounts"), ("case_id", "cases")):
        number = int_param(values.get(key), 0, 0, 2**31 - 1)
        if number:
            subject[key] = (number, res.ref_labels(session, viewer, {entity: {number}})[entity].get(number))
    return render(
        request,
        "survey_respond.html",
        {
            "survey": survey,
            "questions": survey.questions,
            "values": values,
            "errors": errors,
            "message": message,
            "subject": subject,
            "title": f"Answer {survey.name}",
        },
        status_code=status_code,
    )


@router.post("/surveys/{survey_id:int}/respond", response_model=None)
def survey_submit(
    request: Request, survey_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    from crm_app.errors import ConflictError, PermissionDeniedError, ValidationError

    survey = get_visible(session, viewer, "surveys", survey_id)
    values = form_dict(form, "account_id", "contact_id", "opportunity_id", "case_id")
    answers = []
    for question in survey.questions:
        raw = form.get(f"q-{question.id}")
        if isinstance(raw, str) and raw.strip():
            answers.append({"question_id": question.id, "value": raw.strip()})
        values[f"q-{question.id}"] = raw
    payload = {k: v for k, v in values.items() if not k.startswith("q-")}
    try:
        data = validate(s.SurveyResponseCreate, {**payload, "survey_id": survey.id, "answers": answers or [{}]})
        response = res.create(session, viewer, resource("survey_responses"), data)
        session.commit()
    except (ValidationError, ConflictError, PermissionDeniedError) as exc:
        session.rollback()
        return _respond_page(request, session, viewer, survey_id, values, getattr(exc, "errors", {}), str(exc), 422)
    flash(request, f"Response saved (score {response.score if response.score is not None else '—'}).")
    if response.opportunity_id:
        return redirect(f"/opportunities/{response.opportunity_id}")
    return redirect(f"/surveys/{survey.id}")


@router.post("/surveys/{survey_id:int}/questions", response_model=None)
def add_question(
    request: Request, survey_id: int, session: SessionDep, viewer: CurrentUser, form: FormData = FormDep
) -> Response:
    get_visible(session, viewer, "surveys", survey_id)
    values = form_dict(form, "text", "kind", "weight", "max_score", "position")
    raw_choices = str(form.get("choices") or "")
    if raw_choices.strip():
        values["choices"] = [
            {"label": label.strip(), "score": score.strip() or "0"}
            for label, _, score in (line.partition("=") for line in raw_choices.splitlines() if line.strip())
        ]

    def act() -> Any:
        data = validate(s.SurveyQuestionCreate, {**values, "survey_id": survey_id})
        return res.create(session, viewer, resource("survey_questions"), data)

    return guarded(act, request, session, f"/surveys/{survey_id}", "Question added.")
