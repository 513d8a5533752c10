"""The pipeline board's totals the database keeps (migration 0010): right after every kind of write, on both
backends, and as each role's board shows them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session

from crm_app.models import Account, AccountShare, Opportunity, OpportunityStageHistory, PipelineStage, User
from crm_app.models.derived import NOT_CLOSED
from crm_app.services import opportunities
from crm_app.services.visibility import restrict, viewer_for
from tests.board_totals import expected, kept
from tests.web.test_busy_pages import _board, _short
from tests.web.world import World


def test_the_kept_totals_follow_every_kind_of_write(world: World, engine: Engine) -> None:
    u, d = world.users, world.departments
    with Session(engine, expire_on_commit=False) as session:

        def check(moment: str) -> None:
            session.flush()
            assert kept(session) == expected(session), moment

        check("the world as built")
        admin = session.get(User, u["admin"])
        account = session.get(Account, next(a.id for a in world.records["accounts"] if a.owner == u["rep1"]))
        assert admin is not None and account is not None
        # two deals in one flush: one multi-row INSERT
        deal, other = (
            opportunities.create_opportunity(
                session, {"name": name, "account_id": account.id, "amount": Decimal(amount)}, admin
            )
            for name, amount in (("Totals A", "1234.56"), ("Totals B", "0.07"))
        )
        check("two new deals")
        won = session.scalar(select(PipelineStage).where(PipelineStage.is_won))
        assert won is not None
        opportunities.change_stage(session, deal, won.id, admin)
        check("a deal won")
        deal.closed_date = dt.date.today() - dt.timedelta(days=3)
        deal.amount = Decimal("99.99")
        check("its closing day and amount edited")
        deal.owner_id, deal.department_id = u["rep2"], d["O"]
        check("handed to a person of another department")
        account.owner_id, account.department_id = u["boss2"], d["O"]
        check("its account handed over")
        account.deleted_at = dt.datetime(2026, 1, 1)
        check("its account deleted")
        account.deleted_at = None
        check("its account restored")
        other.deleted_at = dt.datetime(2026, 1, 1)
        check("a deal deleted")
        other.deleted_at = None
        check("a deal restored")
        session.execute(update(User).where(User.id == u["rep2"]).values(department_id=d["S1"]))
        check("its owner moved to another department")
        session.execute(update(User).where(User.id == u["boss2"]).values(department_id=None))
        check("its account's owner left every department")
        session.execute(update(Opportunity).values(amount=Opportunity.amount + 1))
        check("every deal's amount changed by one statement")
        session.execute(delete(OpportunityStageHistory).where(OpportunityStageHistory.opportunity_id == other.id))
        session.execute(delete(Opportunity).where(Opportunity.id == other.id))
        check("a deal removed for good")
        session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(text("truncate opportunities cascade"))
            assert kept(session) == {} == expected(session)
            session.rollback()
        assert kept(session) == expected(session)


def test_a_managers_board_counts_the_deals_seen_through_a_shared_account(world: World, engine: Engine, sign_in) -> None:  # type: ignore[no-untyped-def]
    """The boss sees department O's account only through a share: its deals count on their board (read from the
    deals, not the department totals), once each, and only while the account is live."""
    u = world.users
    other = next(a for a in world.records["accounts"] if a.owner == u["rep2"] and (a.id, u["boss"]) not in world.shares)
    with Session(engine, expire_on_commit=False) as session:
        session.add(AccountShare(account_id=other.id, user_id=u["boss"], can_edit=False))
        session.commit()
        boss = viewer_for(session, session.get(User, u["boss"]))
        stages = list(session.scalars(select(PipelineStage).where(PipelineStage.is_active)))

    def expected() -> dict[str, tuple[int, str]]:
        with Session(engine) as session:
            deals = list(
                session.scalars(
                    restrict(select(Opportunity), boss, "opportunities").where(Opportunity.deleted_at.is_(None))
                )
            )
        recent = dt.date.today() - dt.timedelta(days=30)
        shown = {}
        for stage in stages:
            mine = [
                x
                for x in deals
                if x.stage_id == stage.id and (not stage.is_closed or (x.closed_date or NOT_CLOSED) >= recent)
            ]
            shown[stage.name] = (len(mine), _short(sum((x.amount for x in mine), Decimal(0))) if mine else "0")
        return shown

    shared_deals = [r.id for r in world.records["opportunities"] if r.account == other.id]
    assert shared_deals
    client = sign_in("boss")

    def board() -> dict[str, tuple[int, str]]:
        return {name: (c["count"], c["amount"]) for name, c in _board(client.get("/opportunities/board").text).items()}

    seen = board()
    assert seen == expected()
    assert sum(count for count, _ in seen.values()) >= len(shared_deals)
    with Session(engine) as session:
        session.execute(update(Account).where(Account.id == other.id).values(deleted_at=dt.datetime(2026, 1, 1)))
        session.commit()
    after = board()
    assert after == expected()
    assert sum(count for count, _ in after.values()) == sum(count for count, _ in seen.values()) - len(shared_deals)
