"""Business rules for campaigns: members and their progress (targeted → sent → responded → converted), cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import Campaign, CampaignMember, Opportunity, utcnow
from crm_app.models.marketing import MEMBER_STATUSES
from crm_app.services import records
from crm_app.services.visibility import Viewer, is_visible, require_write, restrict

STATUS_TIMES = {"sent": "sent_at", "responded": "responded_at", "converted": "converted_at"}


def add_members(session: Session, viewer: Viewer, campaign: Campaign, account_ids: Iterable[int]) -> int:
    """Target visible accounts with ``campaign``; accounts already members are left as they are."""
    require_write(session, viewer, "campaign_members")
    wanted = list(dict.fromkeys(account_ids))
    unknown = [i for i in wanted if not is_visible(session, viewer, "accounts", i)]
    if unknown:
        raise ValidationError(
            f"unknown account {unknown[0]}", {"account_ids": f"unknown account {', '.join(map(str, unknown[:5]))}"}
        )
    existing = set(session.scalars(select(CampaignMember.account_id).where(CampaignMember.campaign_id == campaign.id)))
    added = 0
    for account_id in wanted:
        if account_id in existing:
            continue
        records.create_record(
            session,
            CampaignMember,
            {"campaign_id": campaign.id, "account_id": account_id, "status": "targeted", "added_at": utcnow()},
            viewer.user,
        )
        added += 1
    return added


def set_member_status(
    session: Session, viewer: Viewer, member: CampaignMember, status: str, expected_version: int | None
) -> CampaignMember:
    require_write(session, viewer, "campaign_members")
    if status not in MEMBER_STATUSES:
        raise ValidationError(f"unknown status {status!r}", {"status": f"one of: {', '.join(MEMBER_STATUSES)}"})
    values: dict[str, object] = {"status": status}
    stamp = STATUS_TIMES.get(status)
    if stamp and getattr(member, stamp) is None:
        values[stamp] = utcnow()
    return records.update_record(session, member, values, viewer.user, expected_version)


@dataclass(frozen=True)
class CampaignStats:
    members: int
    by_status: dict[str, int]
    response_rate: float | None
    budget: Decimal
    actual_cost: Decimal
    cost_per_response: Decimal | None
    won_deals: int
    won_amount: Decimal


def campaign_stats(session: Session, viewer: Viewer, campaign: Campaign) -> CampaignStats:
    rows = session.execute(
        restrict(
            select(CampaignMember.status, func.count()).where(CampaignMember.campaign_id == campaign.id),
            viewer,
            "campaign_members",
        ).group_by(CampaignMember.status)
    ).all()
    by_status = {status: 0 for status in MEMBER_STATUSES}
    by_status.update({status: int(count) for status, count in rows})
    members = sum(by_status.values())
    responded = by_status["responded"] + by_status["converted"]
    reached = members - by_status["targeted"]
    won = session.execute(
        restrict(
            select(func.count(), func.coalesce(func.sum(Opportunity.amount), 0)).where(
                Opportunity.source_campaign_id == campaign.id, Opportunity.status == "won"
            ),
            viewer,
            "opportunities",
        )
    ).one()
    return CampaignStats(
        members=members,
        by_status=by_status,
        response_rate=(responded / reached) if reached else None,
        budget=campaign.budget,
        actual_cost=campaign.actual_cost,
        cost_per_response=(campaign.actual_cost / responded).quantize(Decimal("0.01")) if responded else None,
        won_deals=int(won[0]),
        won_amount=Decimal(won[1] or 0),
    )
