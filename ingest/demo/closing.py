"""Data in (demo data): what follows from all customers together — sales plans set against what was
actually sold, purchasing from suppliers to restock it, and the staff's recurring tasks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

from ingest.demo.baskets import cents
from ingest.demo.clock import Clock
from ingest.demo.customers import Totals
from ingest.demo.sink import frame
from ingest.demo.world import SALES_GROUPS, Ids, World, numbered

PLAN_MONTHS_AHEAD = 3


class Closing:
    def __init__(self, world: World, clock: Clock, ids: Ids, totals: Totals, rng: np.random.Generator, now: str):
        self.w, self.clock, self.ids, self.totals, self.rng, self.now = world, clock, ids, totals, rng, now
        self.tables: dict[str, list[pa.Table]] = {}

    def add(self, table: str, columns: dict[str, Any]) -> None:
        data = frame(table, columns, now=self.now)
        if data.num_rows:
            self.tables.setdefault(table, []).append(data)

    def build(self, config: dict[str, Any]) -> dict[str, pa.Table]:
        self._sales_plans()
        self._purchasing()
        self._recurring_tasks()
        self._audit(config)
        return {table: pa.concat_tables(parts) for table, parts in self.tables.items()}

    # ------------------------------------------------------------------------------- sales plans

    def _targets(self, actual: np.ndarray) -> np.ndarray:
        """Targets per month (rows) from actuals: past months actual × 0.8–1.25, later months the
        recent average with some ambition; a month without sales gets the usual level."""
        current = self.clock.current_month
        last = current + PLAN_MONTHS_AHEAD
        actual = np.maximum(actual[: last + 1], 0)
        usual = actual[: max(current, 1)].mean(axis=0)
        recent = actual[max(current - 3, 0) : max(current, 1)].mean(axis=0)
        base = np.where(actual > 0, actual, usual[None, :])
        base[current:] = recent[None, :] * self.rng.uniform(1.0, 1.1, (last + 1 - current, actual.shape[1]))
        return np.round(base * self.rng.uniform(0.8, 1.25, base.shape), 2)

    def _sales_plans(self) -> None:
        t, w = self.totals, self.w
        current = self.clock.current_month
        months = current + PLAN_MONTHS_AHEAD + 1
        dept_of_rep = w.rep_group  # sales group g is department SALES_GROUPS[g]
        groups = len(SALES_GROUPS)

        def by_dept(values: np.ndarray) -> np.ndarray:
            out = np.zeros((values.shape[0], groups))
            for g in range(groups):
                out[:, g] = values[:, dept_of_rep == g].sum(axis=1)
            return out

        kinds = (
            ("user_id", w.reps.ids, (t.rep_quantity, t.rep_revenue, t.rep_collections, t.rep_margin)),
            (
                "department_id",
                np.array([w.dept[c] for c in SALES_GROUPS]),
                tuple(by_dept(a) for a in (t.rep_quantity, t.rep_revenue, t.rep_collections, t.rep_margin)),
            ),
            (
                "category_id",
                w.root_category_ids,
                # collections are not tracked per category: plan them as most of the revenue
                (t.root_quantity, t.root_revenue, t.root_revenue * 0.97, t.root_margin),
            ),
        )
        for column, targets_of, (quantity, revenue, collections, margin) in kinds:
            n = len(targets_of)
            month = np.repeat(np.arange(months), n)
            target = np.tile(targets_of, months)
            # margins can dip below zero in a month of returns; a target never does
            values = [np.maximum(self._targets(a).ravel(), 0) for a in (quantity, revenue, collections, margin)]
            first_days = np.array([(self.clock.month_date(int(m)) - self.clock.start).days for m in month], float)
            self.add(
                "sales_plans",
                {
                    "id": self.ids.take("sales_plans", len(month)),
                    "period_month": self.clock.dates(first_days),
                    column: target,
                    "target_quantity": np.round(values[0], 0),
                    "target_revenue": values[1],
                    "target_collections": values[2],
                    "target_margin": values[3],
                    "created_at": self.clock.datetimes(np.minimum(first_days - 10, self.clock.end)),
                },
            )

    # -------------------------------------------------------------------------------- purchasing

    def _purchasing(self) -> None:
        rng, w, clock = self.rng, self.w, self.clock
        cat = w.catalogue
        current = clock.current_month
        sold = self.totals.product_quantity[: current + 1]
        month, product = np.nonzero(sold > 0)
        supplier = w.product_supplier[product]
        # one purchase order per supplier and month, restocking what sold (with a margin of safety)
        order_key = month * (int(w.supplier_ids.max()) + 1) + supplier
        keys, po_index = np.unique(order_key, return_inverse=True)
        po_month = keys // (int(w.supplier_ids.max()) + 1)
        po_supplier = keys % (int(w.supplier_ids.max()) + 1)
        order_day = np.maximum(clock.month_starts[po_month] + rng.uniform(0, 5, len(keys)), 0)
        valid = order_day <= clock.end
        expected = order_day + rng.uniform(7, 21, len(keys))
        quantity = np.ceil(sold[month, product] * rng.uniform(0.95, 1.25, len(month))).astype(np.int64)
        unit_cost = cat.cost_cents[product, month]
        line_total = quantity * unit_cost
        keep_line = valid[po_index]
        po_ids = np.zeros(len(keys), dtype=np.int64)
        po_ids[valid] = self.ids.take("purchase_orders", int(valid.sum()))
        totals = np.bincount(po_index[keep_line], weights=line_total[keep_line], minlength=len(keys)).round()
        v = np.flatnonzero(valid)
        status = np.where(expected[v] < clock.today, "received", "ordered")
        self.add(
            "purchase_orders",
            {
                "id": po_ids[v],
                "number": numbered("PO", po_ids[v]),
                "kind": "purchase",
                "supplier_id": po_supplier[v],
                "owner_id": w.users["head:PURCH"],
                "department_id": w.dept["PURCH"],
                "status": status,
                "order_date": clock.dates(order_day[v]),
                "expected_date": clock.dates(expected[v]),
                "total_amount": cents(totals[v]),
                "created_at": clock.datetimes(clock.office(order_day[v])),
            },
        )
        lines = np.flatnonzero(keep_line)
        lines = lines[np.argsort(po_index[lines], kind="stable")]
        line_po = po_index[lines]
        starts = np.searchsorted(line_po, line_po, side="left")
        line_ids = self.ids.take("purchase_order_lines", len(lines))
        self.add(
            "purchase_order_lines",
            {
                "id": line_ids,
                "purchase_order_id": po_ids[line_po],
                "position": np.arange(len(lines)) - starts + 1,
                "product_id": cat.product_ids[product[lines]],
                "quantity": quantity[lines],
                "unit_cost": cents(unit_cost[lines]),
                "line_total": cents(line_total[lines]),
                "created_at": clock.datetimes(clock.office(order_day[line_po])),
            },
        )
        # a few deliveries go partly back to the supplier
        received = v[status == "received"]
        back = received[rng.random(len(received)) < 0.03]
        first_line = np.searchsorted(line_po, back)
        back_qty = np.maximum(1, np.floor(quantity[lines[first_line]] * rng.uniform(0.05, 0.5, len(back)))).astype(
            np.int64
        )
        back_cost = unit_cost[lines[first_line]]
        back_day = np.minimum(expected[back] + rng.uniform(2, 20, len(back)), clock.end)
        ret_ids = self.ids.take("purchase_orders", len(back))
        self.add(
            "purchase_orders",
            {
                "id": ret_ids,
                "number": numbered("PR", ret_ids),
                "kind": "return",
                "return_of_id": po_ids[back],
                "supplier_id": po_supplier[back],
                "owner_id": w.users["head:PURCH"],
                "department_id": w.dept["PURCH"],
                "status": "received",
                "order_date": clock.dates(back_day),
                "total_amount": cents(back_qty * back_cost),
                "notes": "Damaged on arrival",
                "created_at": clock.datetimes(clock.office(back_day)),
            },
        )
        self.add(
            "purchase_order_lines",
            {
                "id": self.ids.take("purchase_order_lines", len(back)),
                "purchase_order_id": ret_ids,
                "position": 1,
                "product_id": cat.product_ids[product[lines[first_line]]],
                "quantity": back_qty,
                "unit_cost": cents(back_cost),
                "line_total": cents(back_qty * back_cost),
                "created_at": clock.datetimes(clock.office(back_day)),
            },
        )
        # purchase plans: each month's expected need per product, two months ahead
        last = current + 2
        history = self.totals.product_quantity[: last + 1].copy()
        recent = history[max(current - 3, 0) : max(current, 1)].mean(axis=0)
        history[current:] = recent[None, :]
        planned = np.ceil(history * rng.uniform(0.9, 1.15, history.shape))
        pm, pp = np.nonzero(planned > 0)
        first_days = clock.month_starts[pm]
        self.add(
            "purchase_plans",
            {
                "id": self.ids.take("purchase_plans", len(pm)),
                "period_month": clock.dates(first_days),
                "product_id": cat.product_ids[pp],
                "supplier_id": w.product_supplier[pp],
                "planned_quantity": planned[pm, pp],
                "planned_unit_cost": cents(cat.cost_cents[pp, pm]),
                "owner_id": w.users["head:PURCH"],
                "created_at": clock.datetimes(np.minimum(first_days - 15, clock.end)),
            },
        )

    # ----------------------------------------------------------------------------- recurring tasks

    def _recurring_tasks(self) -> None:
        """Series of recurring tasks as the app keeps them (crm_app.services.activities): the open parent
        carries the rule and starts the series (``due_at`` = first occurrence); each occurrence already
        done is a child task due at exactly that occurrence. The next occurrence falls due soon."""
        w, clock, rng = self.w, self.clock, self.rng
        now = clock.now
        week, day = dt.timedelta(weeks=1), dt.timedelta(days=1)
        series = (  # owners, subject, rule, hour of day, how far back the series starts, purpose
            (w.reps.ids, "Weekly pipeline review", "FREQ=WEEKLY;BYDAY=MO", 9, 5 * week, "sales"),
            (np.array([w.users["rep"]]), "Call top customers", "FREQ=WEEKLY;BYDAY=FR", 14, 4 * week, "care"),
            (w.agents.ids, "Review the case queue", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", 8, 8 * day, "service"),
            (w.managers, "Monthly plan review", "FREQ=MONTHLY;BYMONTHDAY=1", 10, 75 * day, "internal"),
            (w.analysts, "Campaign results review", "FREQ=MONTHLY;BYMONTHDAY=2", 11, 75 * day, "marketing"),
        )  # fmt: skip
        origin = dt.datetime.combine(clock.start, dt.time())

        def days(moments: list[dt.datetime]) -> np.ndarray:
            return np.array([(m - origin).total_seconds() / 86_400 for m in moments], dtype=np.float64)

        for owners, subject, rule, hour, back, purpose in series:
            first = dt.datetime.combine((now - back).date(), dt.time(hour))
            occurrences = list(rrulestr(rule, dtstart=first).between(first, now, inc=True))
            if not occurrences:
                continue
            n = len(owners)
            parent_ids = self.ids.take("activities", n)
            start = days(occurrences[:1])[0]
            self.add(
                "activities",
                {
                    "id": parent_ids,
                    "kind": "task",
                    "purpose": purpose,
                    "subject": subject,
                    "status": "open",
                    "owner_id": owners,
                    "due_at": clock.datetimes(np.full(n, start)),
                    "recurrence_rule": rule,
                    "created_at": clock.datetimes(np.full(n, start - 1)),
                },
            )
            due = days(occurrences)
            # every occurrence so far is done, except (for some owners) the latest: it is overdue now
            done = np.ones((n, len(due)), dtype=bool)
            done[:, -1] = rng.random(n) < 0.8
            owner_index, occurrence = np.nonzero(done)
            when = due[occurrence]
            self.add(
                "activities",
                {
                    "id": self.ids.take("activities", len(when)),
                    "kind": "task",
                    "purpose": purpose,
                    "subject": subject,
                    "status": "done",
                    "owner_id": owners[owner_index],
                    "due_at": clock.datetimes(when),
                    "done_at": clock.datetimes(np.minimum(when + rng.uniform(0.02, 0.2, len(when)), clock.end)),
                    "recurrence_parent_id": parent_ids[owner_index],
                    "created_at": clock.datetimes(np.minimum(when, clock.end)),
                },
            )

    def _audit(self, config: dict[str, Any]) -> None:
        self.add(
            "audit_log",
            {
                "id": self.ids.take("audit_log", 1),
                "at": [self.now],
                "user_id": self.w.users["admin"],
                "action": "import",
                "entity": "demo_data",
                "changes": [json.dumps(config)],
                "created_at": [self.now],
            },
        )
