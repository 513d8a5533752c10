"""Business rules for surveys: scoring a response (0–100) and the opportunity evaluation score."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Opportunity, Survey, SurveyAnswer, SurveyQuestion, SurveyResponse, utcnow
from crm_app.services import records
from crm_app.services.visibility import Viewer, get_visible

YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}


def answer_score(question: SurveyQuestion, value: str | None) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(numeric value, score as a fraction 0–1, error) for one answer; text answers carry no score."""
    if value is None or value.strip() == "":
        return None, None, None
    raw = value.strip()
    kind = question.kind
    if kind in ("rating", "number"):
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return None, None, "must be a number"
        if not number.is_finite() or abs(number) >= Decimal("1e9"):
            return None, None, "must be a number"
        limit = question.max_score or Decimal("5")
        if kind == "rating" and not (1 <= number <= limit):
            return None, None, f"rate from 1 to {limit.normalize()}"
        if number < 0:
            return None, None, "cannot be negative"
        return number, min(number, limit) / limit, None
    if kind == "yes_no":
        if raw.lower() in YES:
            return Decimal(1), Decimal(1), None
        if raw.lower() in NO:
            return Decimal(0), Decimal(0), None
        return None, None, "answer yes or no"
    if kind == "choice":
        options = question.choices or []
        best = max((Decimal(str(o.get("score", 0))) for o in options), default=Decimal(0))
        for option in options:
            if str(option.get("label")) == raw:
                points = Decimal(str(option.get("score", 0)))
                return points, (points / best if best > 0 else Decimal(0)), None
        return None, None, "choose one of the options"
    return None, None, None


def record_response(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> SurveyResponse:
    """Store a completed questionnaire and its weighted score; an evaluation also scores its opportunity."""
    survey: Survey = get_visible(session, viewer, "surveys", values["survey_id"])
    if not survey.is_active:
        raise ValidationError(f"survey {survey.name!r} is closed", {"survey_id": "closed"})
    questions = {q.id: q for q in survey.questions}
    answers = {a["question_id"]: a.get("value") for a in values.get("answers") or []}
    errors: dict[str, str] = {}
    for question_id in answers:
        if question_id not in questions:
            errors[f"answers.{question_id}"] = "not a question of this survey"
    opportunity: Opportunity | None = None
    if survey.kind == "opportunity_evaluation":
        if not values.get("opportunity_id"):
            errors["opportunity_id"] = "an evaluation is about an opportunity"
        else:
            opportunity = session.get(Opportunity, values["opportunity_id"])
    scored: list[tuple[SurveyQuestion, Decimal | None, Decimal | None, str | None]] = []
    for question in questions.values():
        value = answers.get(question.id)
        number, fraction, error = answer_score(question, value)
        if error:
            errors[f"answers.{question.id}"] = error
        elif question.kind != "text" and fraction is None:
            errors[f"answers.{question.id}"] = "required"
        scored.append((question, number, fraction, value))
    if errors:
        raise ValidationError("some answers are missing or not valid", errors)
    weight_total = sum((q.weight for q, _, f, _ in scored if f is not None), Decimal(0))
    score = None
    if weight_total > 0:
        weighted = sum((q.weight * f for q, _, f, _ in scored if f is not None), Decimal(0))
        score = (weighted / weight_total * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    response = records.create_record(
        session,
        SurveyResponse,
        {
            "survey_id": survey.id,
            "account_id": values.get("account_id") or (opportunity.account_id if opportunity else None),
            "contact_id": values.get("contact_id"),
            "opportunity_id": values.get("opportunity_id"),
            "case_id": values.get("case_id"),
            "user_id": viewer.id,
            "responded_at": utcnow(),
            "score": score,
        },
        viewer.user,
    )
    for question, number, fraction, value in scored:
        if value is None or value.strip() == "":
            continue
        session.add(
            SurveyAnswer(
                response_id=response.id,
                question_id=question.id,
                value_text=value.strip(),
                value_number=number,
                score=(fraction * question.max_score).quantize(Decimal("0.01")) if fraction is not None else None,
            )
        )
    records.flush(session, f"response to {survey.name!r}")
    if opportunity is not None and score is not None:
        records.update_record(session, opportunity, {"evaluation_score": score}, viewer.user, None)
    return response
