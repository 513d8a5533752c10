"""Data in (demo data): opportunities moving through the configured pipeline over time.

Each deal has a planned length; the time is split over the open stages. At every stage the deal either
advances or is lost there, with a chance that depends on the stage, on the deal's quality (which the
evaluation questionnaire scores) and on the owner's skill — so win rates differ by rep and by stage.
What happened after ``now`` stays unknown: such deals are open in the stage they had reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pipeline:
    open_ids: np.ndarray  # open stages in order
    open_probability: np.ndarray
    won_id: int
    lost_id: int
    won_probability: float
    lost_probability: float
    advance: np.ndarray  # base chance of leaving each open stage forwards (logit scale)

    @classmethod
    def from_stages(cls, rows: list[tuple[int, int, float, bool, bool]]) -> Pipeline:
        """From (id, position, probability, is_closed, is_won) rows of pipeline_stages."""
        rows = sorted(rows, key=lambda r: r[1])
        open_rows = [r for r in rows if not r[3]]
        won = [r for r in rows if r[3] and r[4]]
        lost = [r for r in rows if r[3] and not r[4]]
        if len(open_rows) < 2 or not won or not lost:
            raise ValueError("the pipeline needs at least two open stages, a won stage and a lost stage")
        n = len(open_rows)
        # early stages lose most deals (qualification), the last one loses some to price/competitors
        base = np.interp(np.linspace(0, 1, n), [0, 0.5, 1], [0.78, 0.70, 0.80])
        return cls(
            open_ids=np.array([r[0] for r in open_rows]),
            open_probability=np.array([r[2] for r in open_rows]),
            won_id=won[0][0],
            lost_id=lost[0][0],
            won_probability=won[0][2],
            lost_probability=lost[0][2],
            advance=np.log(base / (1 - base)),
        )

    @property
    def n_open(self) -> int:
        return len(self.open_ids)


@dataclass
class DealRun:
    """Outcome of simulated deals, as of the end of the story."""

    entry: np.ndarray  # [deal, open stage]: when the deal entered each stage (if it did)
    close: np.ndarray  # when the deal was won or lost (may lie after now: then it is still open)
    won: np.ndarray  # would be won at ``close``
    lost_stage: np.ndarray  # open stage index where it was lost, -1 if won
    is_open: np.ndarray  # still open now
    stage: np.ndarray  # current open-stage index (for open deals), last open stage reached otherwise
    reached: np.ndarray  # [deal, open stage]: stage entered by now

    @property
    def closed_won(self) -> np.ndarray:
        return ~self.is_open & self.won

    @property
    def closed_lost(self) -> np.ndarray:
        return ~self.is_open & ~self.won


def simulate(
    rng: np.random.Generator,
    pipeline: Pipeline,
    *,
    created: np.ndarray,
    duration: np.ndarray,
    quality: np.ndarray,
    skill: np.ndarray,
    offset: np.ndarray | float,
    end: float,
    stay_open: np.ndarray | None = None,
) -> DealRun:
    """Run deals created at ``created`` lasting ``duration`` days if won; ``stay_open`` deals are
    lost only after ``end`` (prospects that will not buy, but nobody knows it yet)."""
    n, k = len(created), pipeline.n_open
    shares = rng.dirichlet(np.full(k, 1.6), size=n)
    spans = shares * duration[:, None]
    entry = created[:, None] + np.c_[np.zeros(n), np.cumsum(spans, axis=1)[:, :-1]]
    logits = pipeline.advance[None, :] + 0.9 * quality[:, None] + np.log(skill)[:, None] + np.asarray(offset)[..., None]
    advance = 1 / (1 + np.exp(-logits))
    fails = rng.random((n, k)) > advance
    lost_stage = np.where(fails.any(axis=1), fails.argmax(axis=1), -1)
    won = lost_stage < 0
    rows = np.arange(n)
    safe = np.maximum(lost_stage, 0)
    lost_at = entry[rows, safe] + rng.uniform(0.2, 0.9, n) * spans[rows, safe]
    close = np.where(won, created + duration, lost_at)
    if stay_open is not None and stay_open.any():
        won = won & ~stay_open
        lost_stage = np.where(stay_open & (lost_stage < 0), k - 1, lost_stage)
        close = np.where(stay_open, np.maximum(close, end + rng.uniform(5, 90, n)), close)
    is_open = close > end
    last_possible = np.where(won, k - 1, lost_stage)
    reached = (entry <= end) & (np.arange(k)[None, :] <= last_possible[:, None])
    stage = reached.sum(axis=1) - 1
    return DealRun(entry, close, won, lost_stage, is_open, stage, reached)


@dataclass
class History:
    deal: np.ndarray
    from_stage: np.ndarray  # stage id, -1 for the first row
    to_stage: np.ndarray
    changed_at: np.ndarray
    probability: np.ndarray


def history(pipeline: Pipeline, run: DealRun) -> History:
    """Contiguous stage history: entering each stage reached, then the close (if closed by now)."""
    deal, stage = np.nonzero(run.reached)
    closed = np.flatnonzero(~run.is_open)
    open_ids, probs = pipeline.open_ids, pipeline.open_probability
    from_ids = np.where(stage > 0, open_ids[np.maximum(stage - 1, 0)], -1)
    close_to = np.where(run.won[closed], pipeline.won_id, pipeline.lost_id)
    all_deal = np.r_[deal, closed]
    order_in_deal = np.r_[stage, np.full(len(closed), pipeline.n_open)]
    order = np.lexsort((order_in_deal, all_deal))
    return History(
        deal=all_deal[order],
        from_stage=np.r_[from_ids, open_ids[run.stage[closed]]][order],
        to_stage=np.r_[open_ids[stage], close_to][order],
        changed_at=np.r_[run.entry[deal, stage], run.close[closed]][order],
        probability=np.r_[probs[stage], np.where(run.won[closed], pipeline.won_probability, pipeline.lost_probability)][
            order
        ],
    )
