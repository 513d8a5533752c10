"""Data in (demo data): the life of a chunk of customers — acquisition, deals, purchases, service, payments.

Purchases follow a heterogeneous purchase-and-dropout process in the spirit of BG/NBD (Fader, Hardie &
Lee 2005): each buyer has a gamma-distributed purchase rate λ and a beta-distributed probability p of
leaving after each repeat purchase. A complaint handled badly raises that probability for the purchase
it follows. The latent λ, p and the dropout are written to the hidden-truth file, never to the CRM.
Everything else (orders, lines, returns, payments, cases, deals, activities, messages) is derived from
those purchases so the tables agree with one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.demo import vocab
from ingest.demo.baskets import Lines, cents, make_baskets, percent
from ingest.demo.clock import Clock
from ingest.demo.deals import history, simulate
from ingest.demo.sink import Sink, frame, json_texts, without_empty_columns
from ingest.demo.world import (
    CHANNEL_GROUP,
    KEY_GROUP,
    Ids,
    World,
    email_of,
    numbered,
    person_names,
    phones,
    pick,
    text_join,
)

SIZES = ("micro", "small", "medium", "large", "enterprise")
SIZE_P = (0.30, 0.30, 0.22, 0.13, 0.05)
SIZE_FREQ = np.array([0.8, 0.9, 1.0, 1.2, 1.4])  # purchase-rate multiplier
SIZE_QTY = np.array([0.5, 0.8, 1.0, 1.6, 2.5])  # quantity multiplier
SIZE_DEAL_DAYS = np.array([25.0, 35, 50, 70, 95])  # typical deal length
SIZE_UPSELL = np.array([0.04, 0.08, 0.15, 0.25, 0.35])  # share of repeat purchases negotiated as a deal
SOURCES = ("campaign", "referral", "web", "trade_show", "cold_call", "partner", "other")
SOURCE_P = (0.28, 0.12, 0.20, 0.07, 0.12, 0.16, 0.05)
# how a customer of each source comes in: (direct purchase, through a deal, lead that stays a lead)
SOURCE_PATH = np.array(
    [[0.20, 0.50, 0.30], [0.20, 0.70, 0.10], [0.80, 0.10, 0.10], [0.10, 0.65, 0.25], [0.05, 0.55, 0.40],
     [0.75, 0.15, 0.10], [0.40, 0.40, 0.20]]
)  # fmt: skip
DIRECT, DEAL, LEAD = 0, 1, 2
CHANNELS = ("direct", "web", "phone", "retail")
PAY_METHODS = ("bank_transfer", "card", "cash", "cheque", "other")
# dropout boost after a complaint, by the satisfaction (1–5) it ended with
COMPLAINT_BOOST = np.array([0.0, 0.55, 0.35, 0.10, 0.0, 0.0])
SEVERITIES = ("low", "medium", "high", "critical")
LOST_EARLY = (("no_budget", 0.30), ("timing", 0.25), ("no_decision", 0.25), ("product_fit", 0.15), ("other", 0.05))
LOST_LATE = (("price", 0.35), ("relationship", 0.15), ("timing", 0.15), ("no_decision", 0.15), ("product_fit", 0.10),
             ("other", 0.10))  # fmt: skip
RETURN_REASONS = ("Damaged in transit", "Ordered by mistake", "Not as described", "Defective", "No longer needed")
BIG_TIME = 1e6  # larger than any time in days: sorts (customer, time) pairs as one key


@dataclass
class Totals:
    """Running sums across chunks (bounded: months × reps / categories / products) for plans and purchasing."""

    rep_revenue: np.ndarray
    rep_margin: np.ndarray
    rep_quantity: np.ndarray
    rep_collections: np.ndarray
    root_revenue: np.ndarray
    root_margin: np.ndarray
    root_quantity: np.ndarray
    product_quantity: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, months: int, reps: int, roots: int, products: int) -> Totals:
        def z(width: int) -> np.ndarray:
            return np.zeros((months, width))

        return cls(z(reps), z(reps), z(reps), z(reps), z(roots), z(roots), z(roots), z(products))


@dataclass
class Context:
    world: World
    clock: Clock
    ids: Ids
    sink: Sink
    totals: Totals
    table_order: list[str]


def choose(rng: np.random.Generator, n: int, pairs: tuple[tuple[str, float], ...]) -> np.ndarray:
    labels = np.array([p[0] for p in pairs])
    weights = np.array([p[1] for p in pairs])
    return labels[rng.choice(len(pairs), n, p=weights / weights.sum())]


def weighted_pick(
    rng: np.random.Generator, pools: list[np.ndarray], weights: list[np.ndarray], group: np.ndarray
) -> np.ndarray:
    """For each entry, an index from ``pools[group]`` drawn by ``weights[group]``."""
    out = np.zeros(len(group), dtype=np.int64)
    for g, (pool, w) in enumerate(zip(pools, weights, strict=True)):
        chosen = np.flatnonzero(group == g)
        if len(chosen) and len(pool):
            out[chosen] = pool[
                np.minimum(np.searchsorted(np.cumsum(w), rng.random(len(chosen)) * w.sum()), len(pool) - 1)
            ]
    return out


def segment_starts(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    return starts, np.diff(np.r_[starts, len(sorted_keys)])


class Chunk:
    """Generates ``n`` customers (global numbers ``first`` …) and everything about them, then writes it.

    Internal times are continuous days; every stored time is stamped with ``Clock.office``, which keeps
    order and calendar day, so what happens later in the story is never stamped earlier.
    """

    def __init__(self, ctx: Context, rng: np.random.Generator, first: int, n: int, now: str) -> None:
        self.ctx, self.rng, self.first, self.n, self.now = ctx, rng, first, n, now
        self.w, self.clock = ctx.world, ctx.clock
        self.end = self.clock.end
        self.pending: dict[str, list[pa.Table]] = {}

    def add(self, table: str, columns: dict[str, Any]) -> None:
        data = frame(table, columns, now=self.now)
        if data.num_rows:
            self.pending.setdefault(table, []).append(data)

    def take(self, table: str, n: int) -> np.ndarray:
        return self.ctx.ids.take(table, n)

    def stamp(self, days: np.ndarray) -> pa.Array:
        return self.clock.datetimes(self.clock.office(days))

    def dates(self, days: np.ndarray) -> pa.Array:
        return self.clock.dates(days)

    def flush(self) -> None:
        """Write the chunk, parents before children (the metadata's dependency order)."""
        for table in self.ctx.table_order:
            parts = self.pending.pop(table, None)
            if parts:
                data = without_empty_columns(table, pa.concat_tables(parts))
                self.ctx.sink.write(table, data)
                self.ctx.totals.counts[table] = self.ctx.totals.counts.get(table, 0) + data.num_rows
        if self.pending:
            raise RuntimeError(f"tables outside the load order: {sorted(self.pending)}")

    # =============================================================================================

    def run(self) -> pa.Table:
        self._customers()
        self._initial_deals()
        self._purchases()
        self._later_deals()
        self._order_lines()
        self._accounts()
        self._contacts()
        for deals in (self.init_deals, self.more_deals):
            self._deals(deals)
        self._orders()
        self._returns()
        self._payments()
        self._cases()
        self._campaign_members()
        self._care()
        self._service_surveys()
        self._market_survey()
        self._competitor_orders()
        self._shares_and_favourites()
        self._totals()
        truth = self._truth()
        self.flush()
        return truth

    # ------------------------------------------------------------------------------ who they are

    def _customers(self) -> None:
        rng, w, n = self.rng, self.w, self.n
        self.size = rng.choice(5, n, p=SIZE_P)
        self.region = rng.choice(len(vocab.REGIONS), n, p=vocab.REGION_WEIGHTS)
        weights = np.array(vocab.INDUSTRY_WEIGHTS)
        self.industry = rng.choice(len(vocab.INDUSTRIES), n, p=weights / weights.sum())
        self.source = rng.choice(len(SOURCES), n, p=SOURCE_P)
        # acquisitions grow over time; campaign leads arrive while (or shortly after) their campaign runs
        created = self.end * rng.beta(1.3, 1.0, n)
        live = np.flatnonzero(
            (w.campaign_status != "planned") & (w.campaign_status != "cancelled") & (w.campaign_start < self.end)
        )
        self.campaign = np.full(n, -1)
        from_campaign = np.flatnonzero(self.source == 0) if len(live) else np.zeros(0, dtype=np.int64)
        if len(from_campaign):
            chosen = rng.choice(live, len(from_campaign))
            span = w.campaign_end[chosen] - w.campaign_start[chosen] + 21
            created[from_campaign] = np.clip(w.campaign_start[chosen] + rng.random(len(chosen)) * span, 0, self.end)
            self.campaign[from_campaign] = chosen
        self.t_created = np.minimum(np.maximum(created, 0.0), self.end - 1e-4)
        p = SOURCE_PATH[self.source].copy()
        big = self.size >= 3
        p[big] = p[big] * np.array([0.3, 2.0, 0.6])  # large companies buy through negotiated deals
        p /= p.sum(axis=1, keepdims=True)
        self.path = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        # who looks after them: key accounts, the channel team for partner business, else the region
        group = self.region.copy()
        group[(self.size == 4) | ((self.size == 3) & (rng.random(n) < 0.3))] = KEY_GROUP
        via_partner = self.source == SOURCES.index("partner")
        group[via_partner] = CHANNEL_GROUP
        pools = [np.flatnonzero(w.rep_group == g) for g in range(7)]
        self.rep = weighted_pick(rng, pools, [w.reps.weights[pool] for pool in pools], group)
        self.owner = w.reps.ids[self.rep]
        self.dept = w.reps.dept_ids[self.rep]
        self.partner = np.where(via_partner, w.partner_ids[rng.integers(0, len(w.partner_ids), n)], -1)
        # price policy row of the catalogue's table (0 = list price): 1 partner, 2 key, 3 volume, 4 public
        policy = np.zeros(n, dtype=np.int64)
        policy[(self.size >= 2) & (rng.random(n) < 0.15)] = 3
        policy[((self.size == 4) & (rng.random(n) < 0.6)) | ((self.size == 3) & (rng.random(n) < 0.35))] = 2
        public = list(vocab.INDUSTRIES).index("Public sector")
        policy[(self.industry == public) & (rng.random(n) < 0.7)] = 4
        policy[via_partner] = 0  # the partner buys at partner terms; its end customer pays list price
        self.policy = policy
        # latent behaviour: the hidden truth
        self.rate = np.minimum(rng.gamma(1.1, 10.0 / 1.1, n) * SIZE_FREQ[self.size], 52.0)
        self.p_drop = rng.beta(1.1, 12.0, n)
        self.sensitivity = rng.gamma(2.0, 0.5, n)
        self.payer = rng.choice(3, n, p=[0.70, 0.24, 0.06])  # good, slow, bad
        self.terms = rng.choice(3, n, p=[0.2, 0.5, 0.3])  # prepaid, net 30, split 30/60
        self.method = rng.choice(len(PAY_METHODS), n, p=[0.6, 0.2, 0.05, 0.1, 0.05])
        channel = np.array(CHANNELS)[rng.choice(len(CHANNELS), n, p=[0.45, 0.25, 0.2, 0.1])]
        self.channel = np.where(via_partner, "partner", channel)
        cat = w.catalogue
        drawn = np.searchsorted(cat.popularity, rng.random((n, 2)) * cat.popularity[-1], side="right")
        self.favourite = cat.leaf[np.minimum(drawn, cat.size - 1)]
        self.account_ids = self.take("accounts", n)
        self.contact_count = np.minimum(1 + rng.poisson(0.3 + 0.35 * self.size), 5)
        self.contact_ids = self.take("contacts", int(self.contact_count.sum()))
        self.primary_row = np.cumsum(self.contact_count) - self.contact_count
        self.primary_contact = self.contact_ids[self.primary_row]
        words = list(vocab.INDUSTRIES.values())
        core = pa.array([words[i][k] for i, k in zip(self.industry, rng.integers(0, 5, n), strict=True)])
        prefix, suffix = pick(rng, vocab.NAME_PREFIXES, n), pick(rng, vocab.NAME_SUFFIXES, n)
        self.name = pc.utf8_trim_whitespace(text_join(prefix, " ", core, " ", suffix))
        slug = pc.utf8_lower(pc.replace_substring_regex(text_join(prefix, " ", core), r"[^A-Za-z0-9]+", "-"))
        number = pa.array(np.arange(self.first, self.first + n)).cast(pa.string())
        self.domain = text_join(slug, "-", number, ".example")

    # ------------------------------------------------------------------------------------- deals

    def _simulate(
        self,
        cust: np.ndarray,
        created: np.ndarray,
        offset: np.ndarray | float,
        *,
        close: np.ndarray | None = None,
        stay_open: np.ndarray | None = None,
        initial: bool = False,
    ) -> dict[str, Any]:
        """Deals for ``cust`` created at ``created``; ``close`` fixes when each would be won."""
        rng, m = self.rng, len(cust)
        if close is None:
            duration = SIZE_DEAL_DAYS[self.size[cust]] * rng.gamma(3.0, 1 / 3.0, m)
        else:
            duration = np.maximum(close - created, 0.5)
        quality = rng.normal(0, 1, m)
        run = simulate(
            rng,
            self.w.pipeline,
            created=created,
            duration=duration,
            quality=quality,
            skill=self.w.reps.skill[self.rep[cust]],
            offset=offset,
            end=self.end,
            stay_open=stay_open,
        )
        size = self.size[cust]
        lines, _ = make_baskets(
            rng,
            self.w.catalogue,
            n_lines=1 + rng.poisson(1.2 + 0.5 * size),
            favourite_leaves=self.favourite[cust],
            qty_scale=SIZE_QTY[size] * 1.5,
            policy=self.policy[cust],
            extra_discount_bp=rng.choice([0, 0, 250, 500, 750, 1000], m),
            month=self.clock.month(np.minimum(created + duration, self.end)),
        )
        return {
            "cust": cust,
            "created": created,
            "duration": duration,
            "quality": quality,
            "run": run,
            "lines": lines,
            "totals": lines.doc_totals(m),
            "initial": initial,
            "ids": np.zeros(0, dtype=np.int64),
            "quote_ids": np.full(m, -1),
        }

    def _initial_deals(self) -> None:
        rng = self.rng
        cust = np.flatnonzero(self.path == DEAL)
        created = self.t_created[cust] + rng.uniform(0, 5, len(cust))
        keep = created < self.end
        cust, created = cust[keep], created[keep]
        self.init_deals = self._simulate(cust, created, 0.9, initial=True)
        run = self.init_deals["run"]
        self.t_first = np.full(self.n, np.nan)
        won = np.flatnonzero(run.closed_won)
        self.t_first[cust[won]] = run.close[won]
        self.first_deal = np.full(self.n, -1)
        self.first_deal[cust[won]] = won
        direct = np.flatnonzero(self.path == DIRECT)
        t0 = self.t_created[direct] + rng.exponential(2.0, len(direct))
        ok = t0 <= self.end
        self.t_first[direct[ok]] = t0[ok]

    # --------------------------------------------------------------------------------- purchases

    def _purchases(self) -> None:
        """Purchase times per buyer (BG/NBD-like), complaints and dropout, vectorised over buyers."""
        rng, end, w, n = self.rng, self.end, self.w, self.n
        buyers = np.flatnonzero(~np.isnan(self.t_first))
        support = np.flatnonzero(~w.agent_field)
        support_cum = np.cumsum(w.agents.weights[support])
        ev_cust, ev_t, ev_k = [buyers], [self.t_first[buyers]], [np.zeros(len(buyers), dtype=np.int64)]
        found: list[tuple[np.ndarray, ...]] = []
        self.dropped = np.zeros(n, dtype=bool)
        self.dropout_t = np.full(n, np.nan)
        self.complaint_dropout = np.zeros(n, dtype=bool)
        pending = np.zeros(n)

        def complaints(cust: np.ndarray, t: np.ndarray) -> np.ndarray:
            """Complaints about purchases at ``t``; returns the dropout boost each one causes."""
            m = len(cust)
            opened = t + rng.exponential(6.0, m)
            has = (rng.random(m) < np.minimum(0.035 * self.sensitivity[cust], 0.5)) & (opened <= end)
            severity = rng.choice(4, m, p=[0.25, 0.45, 0.22, 0.08])
            agent = support[np.minimum(np.searchsorted(support_cum, rng.random(m) * support_cum[-1]), len(support) - 1)]
            # some cases wait (for parts, for the manufacturer): they stay open for weeks
            stuck = np.where(rng.random(m) < 0.15, 6.0, 1.0)
            days = rng.gamma(2.0, np.array([1.5, 3.0, 5.0, 8.0])[severity] * w.agents.skill[agent] * stuck / 2)
            raw = 3.9 - np.array([0, 0.3, 0.7, 1.1])[severity] - 0.04 * days + w.agents.quality[agent]
            satisfaction = np.clip(np.rint(raw + rng.normal(0, 0.9, m)), 1, 5).astype(np.int64)
            i = np.flatnonzero(has)
            found.append((cust[i], t[i], opened[i], severity[i], agent[i], days[i], satisfaction[i]))
            return np.where(has, COMPLAINT_BOOST[satisfaction], 0.0)

        t = self.t_first[buyers]
        k = np.zeros(len(buyers), dtype=np.int64)
        pending[buyers] = complaints(buyers, t)
        active = buyers
        while len(active):
            t = t + rng.exponential(365.0 / self.rate[active])
            k = k + 1
            more = t <= end
            active, t, k = active[more], t[more], k[more]
            if not len(active):
                break
            # BG/NBD: after each repeat purchase the customer may leave; a bad complaint about this
            # purchase or an earlier one makes that likelier
            boost = np.maximum(pending[active], complaints(active, t))
            p_eff = self.p_drop[active] + (1 - self.p_drop[active]) * boost
            drop = rng.random(len(active)) < p_eff
            ev_cust.append(active)
            ev_t.append(t)
            ev_k.append(k)
            gone = active[drop]
            self.dropped[gone] = True
            self.dropout_t[gone] = t[drop]
            self.complaint_dropout[gone] = boost[drop] > 0
            pending[active] = 0.0
            active, t, k = active[~drop], t[~drop], k[~drop]
        cust_all, t_all = np.concatenate(ev_cust), np.concatenate(ev_t)
        order = np.lexsort((t_all, cust_all))
        self.ev_cust, self.ev_t, self.ev_k = cust_all[order], t_all[order], np.concatenate(ev_k)[order]
        self.ev_key = self.ev_cust * BIG_TIME + self.ev_t
        cols = [np.concatenate([f[i] for f in found]) for i in range(7)]
        self.complaint = {
            "event": np.searchsorted(self.ev_key, cols[0] * BIG_TIME + cols[1]),
            "opened": cols[2],
            "severity": cols[3].astype(np.int64),
            "agent": cols[4].astype(np.int64),
            "days": cols[5],
            "satisfaction": cols[6].astype(np.int64),
        }
        self.is_buyer = ~np.isnan(self.t_first)
        self.t_last = np.full(n, np.nan)
        self.t_last[self.ev_cust] = self.ev_t  # sorted by time within a customer: the last one stays

    def _later_deals(self) -> None:
        """Deals around repeat purchases (won → that order), deals under way now, and hopeless ones."""
        rng, end = self.rng, self.end
        chance = SIZE_UPSELL[self.size[self.ev_cust]]
        repeat = np.flatnonzero((self.ev_k > 0) & (rng.random(len(self.ev_k)) < chance))
        cust_u, close_u = self.ev_cust[repeat], self.ev_t[repeat]
        length = SIZE_DEAL_DAYS[self.size[cust_u]] * rng.gamma(3.0, 1 / 3.0, len(repeat))
        created_u = np.maximum(close_u - length, self.t_created[cust_u] + 0.01)
        # the next purchase of customers still active, when a deal for it is under way now
        alive = np.flatnonzero(self.is_buyer & ~self.dropped)
        t_next = end + rng.exponential(365.0 / self.rate[alive])
        soon = (t_next - end < 150) & (rng.random(len(alive)) < 2 * SIZE_UPSELL[self.size[alive]] + 0.1)
        cust_f, close_f = alive[soon], t_next[soon]
        created_f = close_f - SIZE_DEAL_DAYS[self.size[cust_f]] * rng.gamma(3.0, 1 / 3.0, len(cust_f))
        ok = (created_f < end) & (created_f > self.t_created[cust_f])
        cust_f, close_f, created_f = cust_f[ok], close_f[ok], created_f[ok]
        # customers who left (or never bought) still get courted: open now, lost later
        courted = self.dropped | ((self.path == LEAD) & ~self.is_buyer)
        hopeless = np.flatnonzero(courted & (rng.random(self.n) < 0.1))
        created_h = end - rng.uniform(3, 60, len(hopeless))
        ok = created_h > self.t_created[hopeless]
        cust_h, created_h = hopeless[ok], created_h[ok]
        nu, nf, nh = len(cust_u), len(cust_f), len(cust_h)
        self.more_deals = self._simulate(
            np.r_[cust_u, cust_f, cust_h],
            np.r_[created_u, created_f, created_h],
            np.r_[np.full(nu, 1.1), np.full(nf, 0.9), np.full(nh, -0.5)],
            close=np.r_[close_u, close_f, created_h + rng.uniform(40, 150, nh)],
            stay_open=np.r_[np.zeros(nu + nf, dtype=bool), np.ones(nh, dtype=bool)],
        )
        # the deals won for past purchases become those orders
        won_past = np.flatnonzero(self.more_deals["run"].closed_won[:nu])
        self.event_deal = np.full(len(self.ev_t), -1)
        self.event_deal[repeat[won_past]] = won_past
        firsts = np.flatnonzero(self.ev_k == 0)
        self.event_init_deal = np.full(len(self.ev_t), -1)
        self.event_init_deal[firsts] = self.first_deal[self.ev_cust[firsts]]

    # ------------------------------------------------------------------------------ order lines

    def _order_lines(self) -> None:
        """Lines of every purchase: a won deal's quoted lines, else a fresh basket."""
        rng, cat = self.rng, self.w.catalogue
        e = len(self.ev_t)
        regular = np.flatnonzero((self.event_deal < 0) & (self.event_init_deal < 0))
        cust = self.ev_cust[regular]
        size = self.size[cust]
        month = self.clock.month(self.ev_t)
        basket, _ = make_baskets(
            rng,
            cat,
            n_lines=1 + rng.poisson(1.7 + 0.25 * size),
            favourite_leaves=self.favourite[cust],
            qty_scale=SIZE_QTY[size],
            policy=self.policy[cust],
            extra_discount_bp=np.where(rng.random(len(cust)) < 0.1, 300, 0),
            month=month[regular],
        )
        parts = [basket.take(np.arange(len(basket)), doc=regular[basket.doc])]
        for deals, link in ((self.init_deals, self.event_init_deal), (self.more_deals, self.event_deal)):
            linked = np.flatnonzero(link >= 0)
            to_event = np.full(len(deals["cust"]), -1)
            to_event[link[linked]] = linked
            lines: Lines = deals["lines"]
            chosen = np.flatnonzero(to_event[lines.doc] >= 0)
            parts.append(lines.take(chosen, doc=to_event[lines.doc[chosen]]))
        doc = np.concatenate([p.doc for p in parts])
        order = np.lexsort((np.concatenate([p.position for p in parts]), doc))
        merged = Lines(*(np.concatenate([getattr(p, f) for p in parts])[order] for f in Lines.__dataclass_fields__))
        self.lines = merged
        self.line_cost = cat.cost_cents[merged.product, month[merged.doc]]
        self.order_total = merged.doc_totals(e)
        self.line_start, self.line_count = segment_starts(merged.doc)
        self.order_ids = self.take("orders", e)
        self.line_ids = self.take("order_lines", len(merged))
        spend = np.bincount(self.ev_cust, weights=self.order_total, minlength=self.n)
        tier = np.full(self.n, None, dtype=object)
        buyers = np.flatnonzero(self.is_buyer)
        if len(buyers):
            rank = np.argsort(np.argsort(-spend[buyers])) / len(buyers)
            tier[buyers] = np.select([rank < 0.1, rank < 0.3, rank < 0.6], ["A", "B", "C"], "D")
        self.tier = tier

    # -------------------------------------------------------------------------------- accounts

    def _accounts(self) -> None:
        rng, n, today = self.rng, self.n, self.clock.today
        lifecycle = np.where(self.is_buyer, np.where(self.channel == "partner", "end_user", "signed"), "prospect")
        lifecycle = np.where(self.is_buyer & (self.t_last < today - 365), "lost", lifecycle)
        open_deal = np.zeros(n, dtype=bool)
        for deals in (self.init_deals, self.more_deals):
            open_deal[deals["cust"][deals["run"].is_open]] = True
        lifecycle = np.where(~self.is_buyer & open_deal, "opportunity", lifecycle)
        self.lifecycle = lifecycle
        regions = list(vocab.REGIONS)
        city = pa.array(
            [vocab.REGIONS[regions[r]][1][c] for r, c in zip(self.region, rng.integers(0, 5, n), strict=True)]
        )
        number = pa.array(rng.integers(1, 200, n)).cast(pa.string())
        address = text_join(number, " ", pick(rng, vocab.STREETS, n), ", ", city)
        employees = np.rint(np.array([5, 30, 150, 700, 4000])[self.size] * np.exp(rng.normal(0, 0.4, n)))
        erp = np.array(vocab.ERP_SYSTEMS)[rng.choice(len(vocab.ERP_SYSTEMS), n)]
        custom = [
            {"erp_system": str(e), "employee_count": int(c), "nda_signed": bool(d)}
            for e, c, d in zip(erp, employees, self.path == DEAL, strict=True)
        ]
        policy_id = self.w.policy_ids[np.maximum(self.policy - 1, 0)]
        campaign_id = self.w.campaign_ids[np.maximum(self.campaign, 0)]
        credit = np.array([2, 5, 20, 80, 300])[self.size] * 100_000
        self.add(
            "accounts",
            {
                "id": self.account_ids,
                "kind": "customer",
                "name": self.name,
                "external_ref": numbered("CUST", np.arange(self.first, self.first + n)),
                "lifecycle_stage": lifecycle,
                "tier": pa.array(self.tier, pa.string()),
                "industry": pa.array(list(vocab.INDUSTRIES)).take(pa.array(self.industry)),
                "region": pa.array(regions).take(pa.array(self.region)),
                "city": city,
                "size": np.array(SIZES)[self.size],
                "phone": phones(rng, n),
                "email": text_join("info@", self.domain),
                "website": text_join("https://www.", self.domain),
                "address": address,
                "source": np.array(SOURCES)[self.source],
                "source_campaign_id": pa.array(campaign_id, mask=self.campaign < 0),
                "owner_id": self.owner,
                "department_id": self.dept,
                "price_policy_id": pa.array(policy_id, mask=self.policy == 0),
                "credit_limit": pa.array(cents(credit), mask=~self.is_buyer),
                "notes": pa.array(np.where(self.size == 4, "Group-wide framework agreement", ""), mask=self.size != 4),
                "custom": json_texts(custom),
                "created_at": self.stamp(self.t_created),
            },
        )

    def _contacts(self) -> None:
        rng = self.rng
        cust = np.repeat(np.arange(self.n), self.contact_count)
        m = len(cust)
        first, last = person_names(rng, m)
        primary = np.zeros(m, dtype=bool)
        primary[self.primary_row] = True
        when = np.minimum(self.t_created[cust] + np.where(primary, 0.0, rng.uniform(0, 90, m)), self.end)
        birthday = np.where(rng.random(m) < 0.3, -rng.uniform(365 * 25, 365 * 60, m), np.nan)
        email = email_of(first, last, pa.array(self.domain).take(pa.array(cust)))
        phone = phones(rng, m)
        self.primary_email = email.take(pa.array(self.primary_row))
        self.primary_phone = phone.take(pa.array(self.primary_row))
        self.add(
            "contacts",
            {
                "id": self.contact_ids,
                "account_id": self.account_ids[cust],
                "first_name": first,
                "last_name": last,
                "title": pick(rng, vocab.JOB_TITLES, m),
                "email": email,
                "phone": phone,
                "mobile": phones(rng, m),
                "is_primary": primary,
                "birthday": self.dates(birthday),
                "owner_id": self.owner[cust],
                "created_at": self.stamp(when),
            },
        )

    # ----------------------------------------------------------------------------- deals, written

    def _deals(self, deals: dict[str, Any]) -> None:
        rng, w, clock = self.rng, self.w, self.clock
        cust, run = deals["cust"], deals["run"]
        m = len(cust)
        if not m:
            return
        pipeline = w.pipeline
        ids = self.take("opportunities", m)
        deals["ids"] = ids
        created, planned = deals["created"], deals["created"] + deals["duration"]
        stage_id = np.where(
            run.is_open, pipeline.open_ids[run.stage], np.where(run.won, pipeline.won_id, pipeline.lost_id)
        )
        probability = np.where(
            run.is_open,
            pipeline.open_probability[run.stage],
            np.where(run.won, pipeline.won_probability, pipeline.lost_probability),
        )
        status = np.where(run.is_open, "open", np.where(run.won, "won", "lost"))
        # an open deal whose planned date has passed gets a new estimate from its owner
        expected = np.where(run.is_open & (planned < clock.today + 1), clock.today + rng.uniform(7, 45, m), planned)
        has_competitor = rng.random(m) < 0.45
        competitor = rng.integers(0, len(w.competitor_ids), m)
        lost = run.closed_lost
        late = run.lost_stage >= pipeline.n_open // 2
        reason = np.where(late, choose(rng, m, LOST_LATE), choose(rng, m, LOST_EARLY))
        to_competitor = lost & has_competitor & (rng.random(m) < 0.55)
        reason = np.where(to_competitor, "competitor", reason)
        competitor_names = np.array([c[0] for c in vocab.COMPETITORS])[competitor]
        note = np.where(to_competitor, np.char.add("Customer chose ", competitor_names), np.char.add("Lost: ", reason))
        campaign = self.campaign[cust] if deals["initial"] else np.full(m, -1)
        # the evaluation questionnaire is filled in once a deal is qualified
        evaluated = run.reached[:, min(1, pipeline.n_open - 1)] & (rng.random(m) < 0.6)
        score, answers = self._evaluation(deals, evaluated, has_competitor)
        lines: Lines = deals["lines"]
        first_product = lines.product[segment_starts(lines.doc)[0]]
        self.add(
            "opportunities",
            {
                "id": ids,
                "name": text_join(
                    self.name.take(pa.array(cust)), " – ", self.w.catalogue.names.take(pa.array(first_product))
                ),
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "stage_id": stage_id,
                "status": status,
                "amount": cents(deals["totals"]),
                "probability": probability,
                "expected_close_date": self.dates(expected),
                "closed_date": self.dates(np.where(run.is_open, np.nan, run.close)),
                "owner_id": self.owner[cust],
                "department_id": self.dept[cust],
                "source_campaign_id": pa.array(w.campaign_ids[np.maximum(campaign, 0)], mask=campaign < 0),
                "competitor_id": pa.array(w.competitor_ids[competitor], mask=~(has_competitor | to_competitor)),
                "lost_reason": pa.array(reason, mask=~lost),
                "lost_note": pa.array(note, mask=~lost),
                "evaluation_score": pa.array(score, mask=~evaluated),
                "created_at": self.stamp(created),
            },
        )
        hist = history(pipeline, run)
        self.add(
            "opportunity_stage_history",
            {
                "id": self.take("opportunity_stage_history", len(hist.deal)),
                "opportunity_id": ids[hist.deal],
                "from_stage_id": pa.array(hist.from_stage, mask=hist.from_stage < 0),
                "to_stage_id": hist.to_stage,
                "changed_at": self.stamp(hist.changed_at),
                "changed_by_id": self.owner[cust[hist.deal]],
                "amount": cents(deals["totals"][hist.deal]),
                "probability": hist.probability,
                "created_at": self.stamp(hist.changed_at),
            },
        )
        self._quotes(deals)
        self._evaluation_rows(deals, evaluated, score, answers)
        self._deal_activities(deals)
        deals["lost_to"] = np.where(to_competitor, competitor, -1)

    def _quotes(self, deals: dict[str, Any]) -> None:
        rng, run, cust = self.rng, deals["run"], deals["cust"]
        proposal = max(1, self.w.pipeline.n_open - 2)  # quotes go out when a deal reaches "Proposal"
        quoted = np.flatnonzero(run.reached[:, proposal])
        if not len(quoted):
            return
        ids = self.take("quotes", len(quoted))
        deals["quote_ids"][quoted] = ids
        when = run.entry[quoted, proposal]
        status = np.where(
            run.is_open[quoted],
            "sent",
            np.where(run.won[quoted], "converted", np.where(rng.random(len(quoted)) < 0.7, "rejected", "expired")),
        )
        c = cust[quoted]
        self.add(
            "quotes",
            {
                "id": ids,
                "number": numbered("Q", ids),
                "account_id": self.account_ids[c],
                "contact_id": self.primary_contact[c],
                "opportunity_id": deals["ids"][quoted],
                "owner_id": self.owner[c],
                "department_id": self.dept[c],
                "price_policy_id": pa.array(
                    self.w.policy_ids[np.maximum(self.policy[c] - 1, 0)], mask=self.policy[c] == 0
                ),
                "status": status,
                "quote_date": self.dates(when),
                "valid_until": self.dates(when + 30),
                "total_amount": cents(deals["totals"][quoted]),
                "order_id": None,  # set once the orders exist (quotes and orders point at each other)
                "created_at": self.stamp(when),
            },
        )
        lines: Lines = deals["lines"]
        row_of = np.full(len(cust), -1)
        row_of[quoted] = np.arange(len(quoted))
        chosen = np.flatnonzero(row_of[lines.doc] >= 0)
        picked = lines.take(chosen)
        self.add(
            "quote_lines",
            {
                "id": self.take("quote_lines", len(chosen)),
                "quote_id": ids[row_of[picked.doc]],
                "position": picked.position,
                "product_id": self.w.catalogue.product_ids[picked.product],
                "description": self.w.catalogue.names.take(pa.array(picked.product)),
                "quantity": picked.quantity,
                "unit_price": cents(picked.price_cents),
                "discount_pct": percent(picked.discount_bp),
                "discount_amount": cents(picked.discount_cents),
                "line_total": cents(picked.total_cents),
                "created_at": self.stamp(when[row_of[picked.doc]]),
            },
        )
        # some quotes go out by fax (public sector still asks for it)
        fax = np.flatnonzero(rng.random(len(quoted)) < 0.12)
        self._message(
            cust=c[fax],
            when=when[fax],
            channel="fax",
            direction="outbound",
            status="sent",
            template=self.w.templates["quote_fax"],
            subject=text_join("Quote ", numbered("Q", ids[fax])),
            user=self.owner[c[fax]],
            address=self.primary_phone.take(pa.array(c[fax])),
        )

    def _evaluation(self, deals: dict[str, Any], evaluated: np.ndarray, competitor: np.ndarray) -> tuple:
        """Answers to the evaluation questionnaire (they reflect the deal's hidden quality) and its score."""
        rng, m = self.rng, len(deals["cust"])
        q = deals["quality"]
        budget = (q + rng.normal(0, 0.8, m) > -0.4).astype(float)  # yes = 1
        decision = np.clip(np.rint(3 + q + rng.normal(0, 0.8, m)), 1, 5)
        fit = np.clip(np.rint(3.2 + 0.9 * q + rng.normal(0, 0.8, m)), 1, 5)
        pressure = np.where(competitor, np.where(rng.random(m) < 0.3, 1.0, 2.0), 3.0)
        timeline = np.select([deals["duration"] < 45, deals["duration"] < 100], [3.0, 2.0], 1.0)
        points = np.c_[budget, decision, fit, pressure, timeline]
        info = self.w.surveys["evaluation"]
        weights = info.weights
        score = np.round(100 * (points / info.max_scores * weights).sum(axis=1) / weights.sum(), 2)
        return score, points

    def _evaluation_rows(
        self, deals: dict[str, Any], evaluated: np.ndarray, score: np.ndarray, points: np.ndarray
    ) -> None:
        rows = np.flatnonzero(evaluated)
        if not len(rows):
            return
        run, cust = deals["run"], deals["cust"]
        when = np.minimum(
            run.entry[rows, min(1, self.w.pipeline.n_open - 1)] + self.rng.uniform(0, 2, len(rows)), self.end
        )
        info = self.w.surveys["evaluation"]
        response_ids = self.take("survey_responses", len(rows))
        c = cust[rows]
        self.add(
            "survey_responses",
            {
                "id": response_ids,
                "survey_id": info.survey_id,
                "account_id": self.account_ids[c],
                "contact_id": self.primary_contact[c],
                "opportunity_id": deals["ids"][rows],
                "user_id": self.owner[c],
                "responded_at": self.stamp(when),
                "score": score[rows],
                "created_at": self.stamp(when),
            },
        )
        p = points[rows]
        labels = {
            0: np.where(p[:, 0] == 1, "yes", "no"),
            3: np.select([p[:, 3] == 3, p[:, 3] == 2], ["none", "one competitor"], "several competitors"),
            4: np.select([p[:, 4] == 3, p[:, 4] == 2], ["this quarter", "next quarter"], "later"),
        }
        self._answers(response_ids, info.question_ids, p, labels, numbers={1, 2}, when=when)

    def _answers(
        self,
        response_ids: np.ndarray,
        question_ids: np.ndarray,
        points: np.ndarray,
        labels: dict[int, np.ndarray],
        numbers: set[int],
        when: np.ndarray,
        values: dict[int, np.ndarray] | None = None,
    ) -> None:
        """One answer per (response, question): text for choices, a number for ratings."""
        r, k = len(response_ids), len(question_ids)
        text = np.full((r, k), None, dtype=object)
        number = np.full((r, k), np.nan)
        for j in range(k):
            if j in labels:
                text[:, j] = labels[j]
            if j in numbers:
                number[:, j] = points[:, j] if values is None or j not in values else values[j]
        self.add(
            "survey_answers",
            {
                "id": self.take("survey_answers", r * k),
                "response_id": np.repeat(response_ids, k),
                "question_id": np.tile(question_ids, r),
                "value_text": pa.array(text.ravel(), pa.string()),
                "value_number": pa.array(number.ravel(), mask=np.isnan(number.ravel())),
                "score": pa.array(points.ravel(), mask=np.isnan(points.ravel())),
                "created_at": self.stamp(np.repeat(when, k)),
            },
        )

    def _deal_activities(self, deals: dict[str, Any]) -> None:
        rng, run, cust, ids = self.rng, deals["run"], deals["cust"], deals["ids"]
        m = len(cust)
        self._activity(
            kind="call",
            purpose="sales",
            subject=pick(rng, ("Discovery call", "First call", "Needs call"), m),
            owner=self.owner[cust],
            cust=cust,
            opportunity=ids,
            due=deals["created"],
            done=deals["created"] + 0.01,
            minutes=rng.integers(10, 40, m),
        )
        stage = min(2, self.w.pipeline.n_open - 1)
        met = np.flatnonzero(run.reached[:, stage])
        visit = rng.random(len(met)) < 0.5
        when = run.entry[met, stage] + rng.uniform(0, 3, len(met))
        when = np.minimum(when, self.end)
        self._activity(
            kind=np.where(visit, "visit", "meeting"),
            purpose="sales",
            subject=np.where(visit, "Site visit: requirements", "Meeting: solution workshop"),
            owner=self.owner[cust[met]],
            cust=cust[met],
            opportunity=ids[met],
            due=when,
            done=when,
            minutes=np.where(visit, rng.integers(60, 180, len(met)), rng.integers(30, 90, len(met))),
            expense=np.where(
                visit,
                rng.integers(2_000, 25_000, len(met)),
                np.where(rng.random(len(met)) < 0.3, rng.integers(500, 6_000, len(met)), 0),
            ),
        )
        still = np.flatnonzero(run.is_open)
        due = self.end + rng.uniform(0.5, 14, len(still))
        self._activity(
            kind="task",
            purpose="sales",
            subject=pick(
                rng,
                ("Follow up on proposal", "Send revised quote", "Prepare product demo", "Call decision maker"),
                len(still),
            ),
            owner=self.owner[cust[still]],
            cust=cust[still],
            opportunity=ids[still],
            due=due,
            created=np.minimum(self.end, np.maximum(deals["created"][still], self.end - rng.uniform(0, 7, len(still)))),
        )

    # ----------------------------------------------------------------- activities and messages

    def _activity(
        self,
        *,
        kind: Any,
        purpose: Any,
        subject: Any,
        owner: np.ndarray,
        due: np.ndarray,
        cust: np.ndarray | None = None,
        done: np.ndarray | None = None,
        created: np.ndarray | None = None,
        opportunity: np.ndarray | None = None,
        case: np.ndarray | None = None,
        minutes: np.ndarray | None = None,
        expense: np.ndarray | None = None,
        rule: str | None = None,
    ) -> None:
        """Activities that happened (``done``) or are due (open); ``expense`` in cents."""
        m = len(owner)
        if not m:
            return
        rng = self.rng
        status: Any
        done_at: Any
        if done is not None:
            cancelled = rng.random(m) < 0.03
            status = np.where(cancelled, "cancelled", "done")
            done_at = self.stamp(np.where(cancelled, np.nan, np.minimum(done, self.end)))
            created = np.minimum(due, self.end) if created is None else created
        else:
            status, done_at = "open", None
            created = np.full(m, self.end) if created is None else created
        self.add(
            "activities",
            {
                "id": self.take("activities", m),
                "kind": kind,
                "purpose": purpose,
                "subject": subject,
                "status": status,
                "owner_id": owner,
                "account_id": None if cust is None else self.account_ids[cust],
                "contact_id": None if cust is None else self.primary_contact[cust],
                "opportunity_id": opportunity,
                "case_id": case,
                # an open task may fall due later; what happened did so by now
                "due_at": self.clock.datetimes(self.clock.office(due, planned=done is None)),
                "done_at": done_at,
                "duration_minutes": minutes,
                "expense": None if expense is None else cents(expense),
                "recurrence_rule": rule,
                "created_at": self.stamp(created),
            },
        )

    def _message(
        self,
        *,
        cust: np.ndarray,
        when: np.ndarray,
        channel: Any,
        direction: Any,
        status: Any,
        template: Any,
        subject: Any,
        user: Any,
        address: Any,
        campaign: Any = None,
        error: Any = None,
    ) -> None:
        m = len(cust)
        if not m:
            return
        self.add(
            "communications",
            {
                "id": self.take("communications", m),
                "channel": channel,
                "direction": direction,
                "status": status,
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "campaign_id": campaign,
                "template_id": template,
                "user_id": user,
                "to_address": address,
                "subject": subject,
                "occurred_at": self.stamp(when),
                "error": error,
                "created_at": self.stamp(when),
            },
        )

    # ----------------------------------------------------------------------------------- orders

    def _orders(self) -> None:
        rng, e = self.rng, len(self.ev_t)
        cust, t = self.ev_cust, self.ev_t
        opportunity = np.full(e, -1)
        quote = np.full(e, -1)
        for deals, link in ((self.init_deals, self.event_init_deal), (self.more_deals, self.event_deal)):
            linked = np.flatnonzero(link >= 0)
            opportunity[linked] = deals["ids"][link[linked]]
            quote[linked] = deals["quote_ids"][link[linked]]
        # most customers stick to their channel; some orders come in another way
        other = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), e)]
        channel = np.where((self.channel[cust] != "partner") & (rng.random(e) < 0.2), other, self.channel[cust])
        age = self.clock.today - np.floor(t)
        status = np.select([age <= 2, age <= 14], ["confirmed", "shipped"], "completed")
        partner = self.partner[cust]
        self.order_channel = channel
        self.add(
            "orders",
            {
                "id": self.order_ids,
                "number": numbered("SO", self.order_ids),
                "kind": "sale",
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "opportunity_id": pa.array(opportunity, mask=opportunity < 0),
                "quote_id": pa.array(quote, mask=quote < 0),
                "owner_id": self.owner[cust],
                "department_id": self.dept[cust],
                "partner_id": pa.array(partner, mask=(partner < 0) | (channel != "partner")),
                "channel": channel,
                "status": status,
                "order_date": self.dates(t),
                "total_amount": cents(self.order_total),
                "created_at": self.stamp(t),
            },
        )
        lines, cat = self.lines, self.w.catalogue
        self.add(
            "order_lines",
            {
                "id": self.line_ids,
                "order_id": self.order_ids[lines.doc],
                "position": lines.position,
                "product_id": cat.product_ids[lines.product],
                "description": cat.names.take(pa.array(lines.product)),
                "quantity": lines.quantity,
                "unit_price": cents(lines.price_cents),
                "discount_pct": percent(lines.discount_bp),
                "discount_amount": cents(lines.discount_cents),
                "line_total": cents(lines.total_cents),
                "unit_cost": cents(self.line_cost),
                "created_at": self.stamp(t[lines.doc]),
            },
        )
        # confirmations for some orders, a welcome for first orders
        confirm = np.flatnonzero(rng.random(e) < 0.10)
        self._message(
            cust=cust[confirm],
            when=t[confirm] + 0.001,
            channel="email",
            direction="outbound",
            status="delivered",
            template=self.w.templates["order_confirmation"],
            subject=text_join("Order ", numbered("SO", self.order_ids[confirm]), " confirmed"),
            user=self.owner[cust[confirm]],
            address=self.primary_email.take(pa.array(cust[confirm])),
        )
        first = np.flatnonzero(self.ev_k == 0)
        self._message(
            cust=cust[first],
            when=t[first] + 0.01,
            channel="email",
            direction="outbound",
            status="delivered",
            template=self.w.templates["welcome"],
            subject=text_join("Welcome, ", self.name.take(pa.array(cust[first]))),
            user=self.owner[cust[first]],
            address=self.primary_email.take(pa.array(cust[first])),
        )

    def _returns(self) -> None:
        """A few percent of sales come back (more after a complaint); never more than was sold."""
        rng, e = self.rng, len(self.ev_t)
        complained = np.zeros(e, dtype=bool)
        complained[self.complaint["event"]] = True
        t_back = self.ev_t + rng.uniform(3, 30, e)
        chosen = np.flatnonzero((rng.random(e) < np.where(complained, 0.15, 0.025)) & (t_back <= self.end))
        line = self.line_start[chosen] + np.floor(rng.random(len(chosen)) * self.line_count[chosen]).astype(np.int64)
        sold = self.lines.quantity[line]
        qty = np.where(
            rng.random(len(chosen)) < 0.4, sold, 1 + np.floor(rng.random(len(chosen)) * sold).astype(np.int64)
        )
        # the refund follows the net price actually paid per unit (rounded down: never more than paid)
        unit = self.lines.total_cents[line] // sold
        total = unit * qty
        ids = self.take("orders", len(chosen))
        cust = self.ev_cust[chosen]
        when = t_back[chosen]
        age = self.clock.today - np.floor(when)
        self.return_ids, self.return_total, self.return_t, self.return_cust = ids, total, when, cust
        self.return_line, self.return_qty = line, qty
        self.add(
            "orders",
            {
                "id": ids,
                "number": numbered("RT", ids),
                "kind": "return",
                "return_of_id": self.order_ids[chosen],
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "owner_id": self.owner[cust],
                "department_id": self.dept[cust],
                "partner_id": pa.array(self.partner[cust], mask=self.order_channel[chosen] != "partner"),
                "channel": self.order_channel[chosen],
                "status": np.where(age <= 3, "confirmed", "completed"),
                "order_date": self.dates(when),
                "total_amount": cents(total),
                "notes": pick(rng, RETURN_REASONS, len(chosen)),
                "created_at": self.stamp(when),
            },
        )
        cat = self.w.catalogue
        product = self.lines.product[line]
        self.add(
            "order_lines",
            {
                "id": self.take("order_lines", len(chosen)),
                "order_id": ids,
                "position": 1,
                "product_id": cat.product_ids[product],
                "description": cat.names.take(pa.array(product)),
                "quantity": qty,
                "unit_price": cents(unit),
                "discount_pct": 0.0,
                "discount_amount": 0.0,
                "line_total": cents(total),
                "unit_cost": cents(self.line_cost[line]),
                "return_of_line_id": self.line_ids[line],
                "created_at": self.stamp(when),
            },
        )

    def _payments(self) -> None:
        """Instalments (Σ = order total) and payments: most on time, some late, a few never."""
        rng, e = self.rng, len(self.ev_t)
        cust, t, total = self.ev_cust, self.ev_t, self.order_total
        terms = np.where(total > 2_000_000, 3, self.terms[cust])  # big orders: a third now, then 30/60 days
        count = np.array([1, 1, 2, 3])[terms]
        order = np.repeat(np.arange(e), count)
        k = np.arange(len(order)) - np.repeat(np.cumsum(count) - count, count)
        offsets = np.array([[0, 0, 0], [30, 0, 0], [30, 60, 0], [0, 30, 60]])
        due = t[order] + offsets[terms[order], k]
        n_parts = count[order]
        share = total[order] // n_parts
        amount = np.where(k == n_parts - 1, total[order] - share * (n_parts - 1), share)
        # refunds of returns are planned and paid the same way
        r = len(self.return_ids)
        plan_order = np.r_[self.order_ids[order], self.return_ids]
        plan_due = np.r_[due, self.return_t + 14]
        plan_amount = np.r_[amount, self.return_total]
        plan_t = np.r_[t[order], self.return_t]
        plan_cust = np.r_[cust[order], self.return_cust]
        refund = np.r_[np.zeros(len(order), dtype=bool), np.ones(r, dtype=bool)]
        keep = plan_amount > 0
        plan_order, plan_due, plan_amount, plan_t, plan_cust, refund = (
            a[keep] for a in (plan_order, plan_due, plan_amount, plan_t, plan_cust, refund)
        )
        m = len(plan_order)
        plan_ids = self.take("payment_plans", m)
        self.add(
            "payment_plans",
            {
                "id": plan_ids,
                "order_id": plan_order,
                "kind": np.where(refund, "refund", "collection"),
                "due_date": self.dates(plan_due),
                "amount": cents(plan_amount),
                "created_at": self.stamp(plan_t),
                "notes": pa.array(np.where(refund, "Refund of returned goods", ""), mask=~refund),
            },
        )
        payer = np.where(refund, 0, self.payer[plan_cust])
        delay = np.select(
            [payer == 0, payer == 1],
            [rng.uniform(-10, 1, m), rng.uniform(-2, 40, m)],
            rng.uniform(10, 90, m),
        )
        never = (payer == 2) & (rng.random(m) < 0.25)
        paid_t = np.maximum(plan_t + 0.01, plan_due + delay)
        paid = ~never & (paid_t <= self.end)
        p = np.flatnonzero(paid)
        pay_ids = self.take("payments", len(p))
        self.add(
            "payments",
            {
                "id": pay_ids,
                "order_id": plan_order[p],
                "payment_plan_id": plan_ids[p],
                "paid_on": self.dates(paid_t[p]),
                "amount": cents(plan_amount[p]),
                "method": np.where(refund[p], "bank_transfer", np.array(PAY_METHODS)[self.method[plan_cust[p]]]),
                "reference": numbered("TX", pay_ids, 9),
                "recorded_by_id": self.w.users["head:FIN"],
                "created_at": self.stamp(paid_t[p]),
            },
        )
        self.collected = (plan_cust[p], paid_t[p], plan_amount[p], refund[p])
        # reminders for instalments a week overdue, and a task for the owner while still unpaid
        late = np.flatnonzero(~refund & (plan_due + 7 <= self.end) & (~paid | (paid_t > plan_due + 7)))
        self._message(
            cust=plan_cust[late],
            when=plan_due[late] + 7,
            channel="sms",
            direction="outbound",
            status="delivered",
            template=self.w.templates["payment_reminder"],
            subject=text_join("Instalment due on ", self.dates(plan_due[late])),
            user=self.w.users["head:FIN"],
            address=self.primary_phone.take(pa.array(plan_cust[late])),
        )
        open_late = np.flatnonzero(~refund & ~paid & (plan_due < self.end))
        self.overdue_customers = plan_cust[open_late]
        chase = open_late[rng.random(len(open_late)) < 0.5]
        self._activity(
            kind="task",
            purpose="sales",
            subject=text_join("Chase overdue payment: ", self.dates(plan_due[chase])),
            owner=self.owner[plan_cust[chase]],
            cust=plan_cust[chase],
            due=self.end + rng.uniform(0.5, 10, len(chase)),
            created=np.minimum(plan_due[chase] + 7, self.end),
        )

    # ------------------------------------------------------------------------------------ service

    def _cases(self) -> None:
        """Complaints (from the purchase process), inquiries and repairs, each about an order line."""
        rng, w, e, end = self.rng, self.w, len(self.ev_t), self.end
        cat, lines = w.catalogue, self.lines
        c = self.complaint
        # inquiries and repairs do not drive dropout; repairs need hardware on the order
        hardware = np.bincount(lines.doc, weights=cat.is_hardware[lines.product], minlength=e) > 0
        opened_other = self.ev_t + rng.exponential(20.0, e)
        u = rng.random(e)
        inquiry = (u < 0.04) & (opened_other <= end)
        repair = (u >= 0.04) & (u < 0.07) & hardware & (opened_other <= end)
        other = np.flatnonzero(inquiry | repair)
        field_agents = np.flatnonzero(w.agent_field)
        support = np.flatnonzero(~w.agent_field)
        kind = np.r_[np.full(len(c["event"]), "complaint"), np.where(repair[other], "repair", "inquiry")]
        event = np.r_[c["event"], other]
        opened = np.r_[c["opened"], opened_other[other]]
        m = len(event)
        is_repair = kind == "repair"
        agent = np.r_[
            c["agent"], np.where(repair[other], rng.choice(field_agents, len(other)), rng.choice(support, len(other)))
        ]
        severity = np.r_[c["severity"], rng.choice(4, len(other), p=[0.45, 0.4, 0.12, 0.03])]
        stuck = np.where(rng.random(len(other)) < 0.15, 6.0, 1.0)
        scale = np.where(repair[other], 3.0, 1.0) * stuck * w.agents.skill[agent[len(c["event"]) :]] / 2
        days = np.r_[c["days"], rng.gamma(2.0, scale)]
        raw = (
            4.3
            - 0.3 * severity[len(c["event"]) :]
            - 0.05 * days[len(c["event"]) :]
            + w.agents.quality[agent[len(c["event"]) :]]
        )
        sat_other = np.clip(np.rint(raw + rng.normal(0, 0.8, len(other))), 1, 5).astype(np.int64)
        satisfaction = np.r_[c["satisfaction"], sat_other]
        # the product concerned: likelier the one that breaks (or, for repairs, the hardware)
        start, count = self.line_start[event], self.line_count[event]
        lines_of = np.repeat(np.arange(m), count)
        line = np.repeat(start, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        weight = cat.defect[lines.product[line]] * np.where(
            is_repair[lines_of], cat.is_hardware[lines.product[line]] + 1e-9, 1.0
        )
        key = np.log(rng.random(len(line))) / weight  # weighted choice: the largest key wins
        order = np.lexsort((key, lines_of))
        last = np.r_[np.flatnonzero(np.diff(lines_of[order])), len(order) - 1] if len(order) else np.zeros(0, int)
        product = lines.product[line[order[last]]]
        if self.first == 1 and m:
            # the demo agent always has a few cases on their desk: the latest service-desk ones wait
            demo_agent = int(np.flatnonzero(w.agents.ids == w.users["agent"])[0])
            desk = np.flatnonzero(~is_repair)
            latest = desk[np.argsort(-opened[desk])][:3]
            agent[latest] = demo_agent
            days[latest] = np.maximum(days[latest], end - opened[latest] + rng.uniform(2, 10, len(latest)))
        resolved = opened + days
        closed = resolved + rng.exponential(1.5, m)
        status = np.select(
            [closed <= end, resolved <= end, opened + 0.3 * days <= end], ["closed", "resolved", "in_progress"], "open"
        )
        ids = self.take("cases", m)
        cust = self.ev_cust[event]
        subject = np.array([rng.choice(vocab.CASE_SUBJECTS[k]) for k in kind], dtype=object).astype(str)
        self.add(
            "cases",
            {
                "id": ids,
                "number": numbered("CS", ids),
                "kind": kind,
                "severity": np.array(SEVERITIES)[severity],
                "status": status,
                "subject": subject,
                "description": text_join("About order ", numbered("SO", self.order_ids[event])),
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "product_id": cat.product_ids[product],
                "order_id": self.order_ids[event],
                "owner_id": w.agents.ids[agent],
                "department_id": w.agents.dept_ids[agent],
                "opened_at": self.stamp(opened),
                "resolved_at": self.stamp(np.where(resolved <= end, resolved, np.nan)),
                "closed_at": self.stamp(np.where(closed <= end, closed, np.nan)),
                "resolution": pa.array(pick(rng, vocab.RESOLUTIONS, m), mask=resolved > end),
                "satisfaction": pa.array(satisfaction, mask=closed > end),
                "created_at": self.stamp(opened),
            },
        )
        self.case_ids, self.case_cust, self.case_closed = ids, cust, np.where(closed <= end, closed, np.nan)
        self.case_sat, self.case_days, self.case_agent = satisfaction, days, agent
        # the customer gets in touch; the agent calls back; repairs need a visit
        channel = np.array(["phone", "email", "web"])[rng.choice(3, m, p=[0.5, 0.4, 0.1])]
        self._message(
            cust=cust,
            when=opened,
            channel=channel,
            direction="inbound",
            status="received",
            template=None,
            subject=subject,
            user=w.agents.ids[agent],
            address=pa.array(np.where(channel == "email", "service@crm-demo.example", "+49 30 5550100")),
        )
        self._activity(
            kind="call",
            purpose="service",
            subject=text_join("Call back: ", pa.array(subject)),
            owner=w.agents.ids[agent],
            cust=cust,
            case=ids,
            due=opened + 0.05,
            done=np.minimum(opened + 0.1, end),
            minutes=rng.integers(5, 30, m),
        )
        visits = np.flatnonzero(is_repair)
        done = resolved[visits] <= end
        self._activity(
            kind="visit",
            purpose="service",
            subject="On-site repair",
            owner=w.agents.ids[agent[visits[done]]],
            cust=cust[visits[done]],
            case=ids[visits[done]],
            due=resolved[visits[done]] - 0.05,
            done=resolved[visits[done]],
            minutes=rng.integers(60, 240, done.sum()),
            expense=rng.integers(3_000, 20_000, done.sum()),
        )
        planned = visits[~done]
        self._activity(
            kind="visit",
            purpose="service",
            subject="On-site repair (scheduled)",
            owner=w.agents.ids[agent[planned]],
            cust=cust[planned],
            case=ids[planned],
            due=end + rng.uniform(0.5, 7, len(planned)),
            created=np.minimum(opened[planned] + 0.1, end),
        )
        follow = np.flatnonzero(closed <= end)
        self._message(
            cust=cust[follow],
            when=closed[follow] + 0.01,
            channel="email",
            direction="outbound",
            status="delivered",
            template=w.templates["service_follow_up"],
            subject=text_join("Your case ", numbered("CS", ids[follow])),
            user=w.agents.ids[agent[follow]],
            address=self.primary_email.take(pa.array(cust[follow])),
        )

    # ---------------------------------------------------------------------------------- marketing

    def _campaign_members(self) -> None:
        rng, w, end, n = self.rng, self.w, self.end, self.n
        by_start = np.argsort(w.campaign_start, kind="stable")
        starts = w.campaign_start[by_start]
        months_known = (end - self.t_created) / 30.4
        k = np.minimum(rng.poisson(0.12 * months_known), 12)
        cust = np.repeat(np.arange(n), k)
        lo = np.searchsorted(starts, self.t_created[cust])
        hi = np.searchsorted(starts, end + 60)
        ok = lo < hi
        cust, lo = cust[ok], lo[ok]
        campaign = by_start[lo + np.floor(rng.random(len(cust)) * (hi - lo)).astype(np.int64)]
        sourced = np.flatnonzero(self.campaign >= 0)
        all_cust = np.r_[sourced, cust]
        all_campaign = np.r_[self.campaign[sourced], campaign]
        is_source = np.r_[np.ones(len(sourced), dtype=bool), np.zeros(len(cust), dtype=bool)]
        first = np.sort(np.unique(all_cust * len(w.campaign_ids) + all_campaign, return_index=True)[1])
        keep = first[w.campaign_status[all_campaign[first]] != "cancelled"]
        cust, campaign, is_source = all_cust[keep], all_campaign[keep], is_source[keep]
        m = len(cust)
        start, stop = w.campaign_start[campaign], w.campaign_end[campaign]
        created = self.t_created[cust]
        added = np.where(is_source, start, np.maximum(start - rng.uniform(1, 10, m), created))
        added = np.minimum(added, end)
        sent = np.where(is_source, start + rng.random(m) * (created - start) * 0.5, start + rng.random(m))
        sent = np.where(sent <= end, sent, np.nan)
        alive_then = (
            self.is_buyer[cust] & (self.t_first[cust] <= sent) & ~(self.dropped[cust] & (self.dropout_t[cust] < sent))
        )
        chance = 0.04 + 0.10 * alive_then + 0.03 * ~self.is_buyer[cust]
        responded = np.where(is_source, created, sent + rng.exponential(3.0, m))
        answered = is_source | ((rng.random(m) < chance) & (responded <= np.minimum(end, stop + 14)))
        responded = np.where(answered & ~np.isnan(sent), responded, np.nan)
        # converted: the customer bought within 30 days of responding (90 for a new lead)
        idx = np.searchsorted(self.ev_key, cust * BIG_TIME + np.nan_to_num(responded, nan=BIG_TIME - 1))
        idx = np.minimum(idx, max(len(self.ev_key) - 1, 0))
        window = np.where(is_source, 90, 30)
        if len(self.ev_key):
            nxt = self.ev_t[idx]
            bought = (
                (self.ev_cust[idx] == cust) & ~np.isnan(responded) & (nxt >= responded) & (nxt - responded <= window)
            )
        else:
            nxt, bought = np.zeros(m), np.zeros(m, dtype=bool)
        converted = np.where(bought, nxt, np.nan)
        status = np.select(
            [~np.isnan(converted), ~np.isnan(responded), ~np.isnan(sent)],
            ["converted", "responded", "sent"],
            "targeted",
        )
        self.add(
            "campaign_members",
            {
                "id": self.take("campaign_members", m),
                "campaign_id": w.campaign_ids[campaign],
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "status": status,
                "added_at": self.stamp(added),
                "sent_at": self.stamp(sent),
                "responded_at": self.stamp(responded),
                "converted_at": self.stamp(converted),
                "source_segment": pick(rng, ("Active customers", "Prospects", "Lapsed customers", "Key accounts"), m),
                "created_at": self.stamp(added),
            },
        )
        out = np.flatnonzero(~np.isnan(sent))
        channel = w.campaign_channel[campaign[out]]
        failed = rng.random(len(out)) < 0.02
        delivered = np.isin(channel, ["email", "sms", "web"])
        phone_like = np.isin(channel, ["sms", "phone", "fax"])
        address = np.where(
            phone_like,
            np.asarray(self.primary_phone.take(pa.array(cust[out])).to_numpy(zero_copy_only=False)),
            np.asarray(self.primary_email.take(pa.array(cust[out])).to_numpy(zero_copy_only=False)),
        )
        self._message(
            cust=cust[out],
            when=sent[out],
            channel=channel,
            direction="outbound",
            status=np.where(failed, "failed", np.where(delivered, "delivered", "sent")),
            template=w.campaign_template[campaign[out]],
            subject=w.campaign_names.take(pa.array(campaign[out])),
            user=w.campaign_owner[campaign[out]],
            address=address,
            campaign=w.campaign_ids[campaign[out]],
            error=pa.array(np.where(failed, "Recipient unreachable", ""), mask=~failed),
        )
        back = np.flatnonzero(~np.isnan(responded))
        reply = np.where(
            np.isin(w.campaign_channel[campaign[back]], ["letter", "fax"]), "phone", w.campaign_channel[campaign[back]]
        )
        self._message(
            cust=cust[back],
            when=responded[back],
            channel=reply,
            direction="inbound",
            status="received",
            template=None,
            subject=text_join("Re: ", w.campaign_names.take(pa.array(campaign[back]))),
            user=w.campaign_owner[campaign[back]],
            address=None,
            campaign=w.campaign_ids[campaign[back]],
        )

    def _care(self) -> None:
        """Reps keep in touch with their buyers; key accounts get a recurring quarterly review."""
        rng, end = self.rng, self.end
        buyers = np.flatnonzero(self.is_buyer)
        k = rng.poisson(0.5 * (end - self.t_first[buyers]) / 365)
        cust = np.repeat(buyers, k)
        when = self.t_first[cust] + rng.random(len(cust)) * (end - self.t_first[cust])
        kind = np.array(["call", "email", "note"])[rng.choice(3, len(cust), p=[0.5, 0.3, 0.2])]
        subject = np.select(
            [kind == "call", kind == "email"], ["Check-in call", "Sent product news"], "Customer feedback noted"
        )
        self._activity(
            kind=kind,
            purpose="care",
            subject=subject,
            owner=self.owner[cust],
            cust=cust,
            due=when,
            done=when,
            minutes=np.where(kind == "call", rng.integers(5, 30, len(cust)), 0),
        )
        key = np.flatnonzero((self.tier == "A") & (self.lifecycle != "lost"))
        current = self.clock.current_month
        calendar_month = (self.clock.start.month - 1 + current) % 12  # 0 = January
        quarter = self.clock.month_starts[current + 3 - calendar_month % 3] + 9 / 24  # next quarter, 09:00
        self._activity(
            kind="meeting",
            purpose="care",
            subject="Quarterly business review",
            owner=self.owner[key],
            cust=key,
            due=np.full(len(key), quarter),
            created=np.maximum(self.t_first[key], end - 80),
            rule="FREQ=MONTHLY;INTERVAL=3",
        )

    def _service_surveys(self) -> None:
        rng, end = self.rng, self.end
        closed = np.flatnonzero(~np.isnan(self.case_closed))
        when = self.case_closed[closed] + rng.uniform(0.2, 5, len(closed))
        rows = closed[(rng.random(len(closed)) < 0.4) & (when <= end)]
        if not len(rows):
            return
        when = self.case_closed[rows] + rng.uniform(0.2, 5, len(rows))
        when = np.minimum(when, end)
        m = len(rows)
        sat = self.case_sat[rows].astype(float)
        overall = np.clip(sat + np.where(rng.random(m) < 0.2, rng.choice([-1, 1], m), 0), 1, 5)
        speed = np.clip(np.rint(5 - self.case_days[rows] / 4 + rng.normal(0, 0.7, m)), 1, 5)
        recommend = ((sat + rng.normal(0, 0.7, m)) >= 3.5).astype(float)
        points = np.c_[overall, speed, recommend, np.full(m, np.nan)]
        info = self.w.surveys["service"]
        score = self._score(points, info)
        comment = np.where(  # type: ignore[call-overload]
            rng.random(m) < 0.3,
            np.where(
                sat <= 2, "Too slow and nobody called back", np.where(sat >= 4, "Friendly and quick", "It was fine")
            ),
            None,
        )
        ids = self.take("survey_responses", m)
        cust = self.case_cust[rows]
        self.add(
            "survey_responses",
            {
                "id": ids,
                "survey_id": info.survey_id,
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "case_id": self.case_ids[rows],
                "user_id": self.w.agents.ids[self.case_agent[rows]],
                "responded_at": self.stamp(when),
                "score": score,
                "created_at": self.stamp(when),
            },
        )
        labels = {2: np.where(recommend == 1, "yes", "no"), 3: comment}
        self._answers(ids, info.question_ids, points, labels, numbers={0, 1}, when=when)

    @staticmethod
    def _score(points: np.ndarray, info: Any) -> np.ndarray:
        """Weighted score 0–100 over the questions that carry weight."""
        weighted = info.weights > 0
        part = points[:, weighted] / info.max_scores[weighted] * info.weights[weighted]
        return np.round(100 * part.sum(axis=1) / info.weights[weighted].sum(), 2)

    def _market_survey(self) -> None:
        rng, w, end = self.rng, self.w, self.end
        c = int(np.flatnonzero(w.campaign_ids == w.market_campaign_id)[0])
        start = w.campaign_start[c]
        cust = np.flatnonzero((self.t_created < start + 20) & (rng.random(self.n) < 0.03))
        when = np.maximum(start, self.t_created[cust]) + rng.uniform(0, 10, len(cust))
        cust, when = cust[when <= end], when[when <= end]
        m = len(cust)
        if not m:
            return
        info = w.surveys["market"]
        options = [c_[0] for c_ in vocab.COMPETITORS[:4]] + ["us"]
        supplier = np.where(self.is_buyer[cust] & (rng.random(m) < 0.6), "us", np.array(options)[rng.integers(0, 5, m)])
        budget = np.round(np.array([5, 20, 80, 300, 1500])[self.size[cust]] * 1000 * np.exp(rng.normal(0, 0.5, m)), -2)
        interest = np.clip(np.rint(3 + rng.normal(0, 1.1, m)), 1, 5)
        points = np.c_[np.zeros(m), np.full(m, np.nan), interest]
        ids = self.take("survey_responses", m)
        self.add(
            "survey_responses",
            {
                "id": ids,
                "survey_id": info.survey_id,
                "account_id": self.account_ids[cust],
                "contact_id": self.primary_contact[cust],
                "user_id": w.campaign_owner[c],
                "responded_at": self.stamp(when),
                "score": self._score(points, info),
                "created_at": self.stamp(when),
            },
        )
        self._answers(ids, info.question_ids, points, {0: supplier}, numbers={1, 2}, when=when, values={1: budget})

    def _competitor_orders(self) -> None:
        rng, w = self.rng, self.w
        parts = []
        for deals in (self.init_deals, self.more_deals):
            if not len(deals["ids"]):
                continue
            lost = np.flatnonzero(deals["lost_to"] >= 0)
            parts.append(
                (
                    deals["cust"][lost],
                    deals["lost_to"][lost],
                    deals["run"].close[lost],
                    deals["totals"][lost] * rng.uniform(0.85, 1.05, len(lost)),
                    deals["ids"][lost],
                )
            )
        other = np.flatnonzero(rng.random(self.n) < 0.015)
        when = self.t_created[other] + rng.random(len(other)) * (self.end - self.t_created[other])
        amount = np.array([8, 20, 60, 200, 800])[self.size[other]] * 10_000 * np.exp(rng.normal(0, 0.6, len(other)))
        parts.append((other, rng.integers(0, len(w.competitor_ids), len(other)), when, amount, np.full(len(other), -1)))
        cust, comp, when, amount, opportunity = (np.concatenate([p[i] for p in parts]) for i in range(5))
        m = len(cust)
        product = comp * 3 + rng.integers(0, 3, m)  # each competitor has three products
        self.add(
            "competitor_orders",
            {
                "id": self.take("competitor_orders", m),
                "competitor_id": w.competitor_ids[comp],
                "account_id": self.account_ids[cust],
                "competitor_product_id": w.competitor_product_ids[product],
                "opportunity_id": pa.array(opportunity, mask=opportunity < 0),
                "order_date": self.dates(when),
                "amount": cents(np.round(amount)),
                "notes": np.where(opportunity >= 0, "Won against us", "Heard from the customer"),
                "created_at": self.stamp(np.minimum(when + rng.uniform(0, 10, m), self.end)),
            },
        )

    def _shares_and_favourites(self) -> None:
        rng, w = self.rng, self.w
        shared = np.flatnonzero(rng.random(self.n) < 0.015)
        to_agent = rng.random(len(shared)) < 0.5
        colleague = w.reps.ids[rng.integers(0, len(w.reps.ids), len(shared))]
        user = np.where(to_agent, w.agents.ids[rng.integers(0, len(w.agents.ids), len(shared))], colleague)
        ok = user != self.owner[shared]
        shared, user, to_agent = shared[ok], user[ok], to_agent[ok]
        self.add(
            "account_shares",
            {
                "id": self.take("account_shares", len(shared)),
                "account_id": self.account_ids[shared],
                "user_id": user,
                "can_edit": ~to_agent,
                "created_at": self.stamp(np.minimum(self.t_created[shared] + 5, self.end)),
            },
        )
        if self.first != 1:
            return
        favourites: list[tuple[int, str, int]] = []
        mine = self.account_ids[self.owner == w.users["rep"]][:5]
        favourites += [(w.users["rep"], "accounts", int(a)) for a in mine]
        top = self.account_ids[self.tier == "A"][:3]
        favourites += [(w.users["exec"], "accounts", int(a)) for a in top]
        for deals in (self.init_deals, self.more_deals):
            east = deals["ids"][(self.dept[deals["cust"]] == w.dept["SALES-E"]) & deals["run"].is_open][:3]
            favourites += [(w.users["manager"], "opportunities", int(o)) for o in east]
        open_cases = self.case_ids[(w.agents.ids[self.case_agent] == w.users["agent"]) & np.isnan(self.case_closed)][:2]
        favourites += [(w.users["agent"], "cases", int(c)) for c in open_cases]
        favourites = list(dict.fromkeys(favourites))
        self.add(
            "favorites",
            {
                "id": self.take("favorites", len(favourites)),
                "user_id": np.array([f[0] for f in favourites], dtype=np.int64),
                "entity": [f[1] for f in favourites],
                "entity_id": np.array([f[2] for f in favourites], dtype=np.int64),
                "created_at": self.stamp(np.full(len(favourites), self.end - 1)),
            },
        )

    # --------------------------------------------------------------------------- running totals

    def _totals(self) -> None:
        """Add this chunk's sales, margin, quantities and collections to the plan/purchasing totals."""
        tot, cat, lines = self.ctx.totals, self.w.catalogue, self.lines
        months, reps, roots = tot.rep_revenue.shape[0], tot.rep_revenue.shape[1], tot.root_revenue.shape[1]
        month = self.clock.month(self.ev_t)[lines.doc]
        rep = self.rep[self.ev_cust[lines.doc]]
        margin = lines.total_cents - lines.quantity * self.line_cost
        r_line = self.return_line
        r_month = self.clock.month(self.return_t)
        r_rep = self.rep[self.return_cust]
        r_margin = self.return_total - self.return_qty * self.line_cost[r_line]
        root, r_root = cat.root[lines.product], cat.root[lines.product[r_line]]

        def acc(target: np.ndarray, width: int, m: np.ndarray, col: np.ndarray, value: np.ndarray) -> None:
            target += np.bincount(m * width + col, weights=value / 100.0, minlength=months * width).reshape(
                months, width
            )

        acc(tot.rep_revenue, reps, month, rep, lines.total_cents)
        acc(tot.rep_revenue, reps, r_month, r_rep, -self.return_total)
        acc(tot.rep_margin, reps, month, rep, margin)
        acc(tot.rep_margin, reps, r_month, r_rep, -r_margin)
        acc(tot.rep_quantity, reps, month, rep, lines.quantity * 100.0)
        acc(tot.rep_quantity, reps, r_month, r_rep, -self.return_qty * 100.0)
        acc(tot.root_revenue, roots, month, root, lines.total_cents)
        acc(tot.root_revenue, roots, r_month, r_root, -self.return_total)
        acc(tot.root_margin, roots, month, root, margin)
        acc(tot.root_margin, roots, r_month, r_root, -r_margin)
        acc(tot.root_quantity, roots, month, root, lines.quantity * 100.0)
        acc(tot.product_quantity, cat.size, month, lines.product, lines.quantity * 100.0)
        cust, paid_t, amount, refund = self.collected
        sale = ~refund
        acc(tot.rep_collections, reps, self.clock.month(paid_t[sale]), self.rep[cust[sale]], amount[sale])

    # ------------------------------------------------------------------------------------ truth

    def _truth(self) -> pa.Table:
        n = self.n
        values = self.clock.date_values

        def dates(days: np.ndarray) -> pa.Array:
            missing = np.isnan(days)
            return pa.array(values(np.where(missing, 0, days)), mask=missing)

        return pa.table(
            {
                "account_id": pa.array(self.account_ids),
                "external_ref": numbered("CUST", np.arange(self.first, self.first + n)),
                "purchase_rate_per_year": pa.array(self.rate),
                "dropout_probability": pa.array(self.p_drop),
                "first_purchase_date": dates(self.t_first),
                "last_purchase_date": dates(self.t_last),
                "purchases": pa.array(np.bincount(self.ev_cust, minlength=n)),
                "alive_at_end": pa.array(~self.dropped, mask=~self.is_buyer),
                "dropout_date": dates(self.dropout_t),
                "complaints_raised_dropout": pa.array(self.complaint_dropout),
            }
        )
