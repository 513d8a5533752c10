"""Data in (demo data): the company the story happens in — departments, staff, catalogue, price
policies, partners, suppliers, competitors, campaigns, templates, surveys and custom fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.demo import vocab
from ingest.demo.baskets import Catalogue, cents
from ingest.demo.clock import Clock
from ingest.demo.deals import Pipeline
from ingest.demo.sink import Sink, frame, json_texts

# The demo users the README and `crm demo` print: (username, role, department code, full name, what they show)
DEMO_USERS = (
    ("admin", "admin", "HQ", "Alex Admin", "administrator: users, settings, everything"),
    ("exec", "executive", "HQ", "Erin Executive", "executive: reads all data and dashboards"),
    ("manager", "manager", "SALES-E", "Morgan Manager", "manager of Sales East, with sales reps under them"),
    ("rep", "sales_rep", "SALES-E", "Riley Rep", "sales rep in Sales East: own customers and open deals"),
    ("agent", "service_agent", "SUPPORT", "Avery Agent", "service agent at the service desk: open cases"),
    ("analyst", "marketing_analyst", "MKT", "Casey Analyst", "marketing analyst: campaigns and segments"),
)

DEPARTMENTS = (  # code, name, parent code
    ("HQ", "Head office", None),
    ("SALES", "Sales", "HQ"),
    ("SALES-N", "Sales North", "SALES"),
    ("SALES-S", "Sales South", "SALES"),
    ("SALES-E", "Sales East", "SALES"),
    ("SALES-W", "Sales West", "SALES"),
    ("SALES-C", "Sales Central", "SALES"),
    ("KEY", "Key accounts", "SALES"),
    ("CHANNEL", "Channel partners", "SALES"),
    ("SERVICE", "Customer service", "HQ"),
    ("SUPPORT", "Service desk", "SERVICE"),
    ("FIELD", "Field service", "SERVICE"),
    ("MKT", "Marketing", "HQ"),
    ("PURCH", "Purchasing", "HQ"),
    ("FIN", "Finance", "HQ"),
)
SALES_GROUPS = ("SALES-N", "SALES-S", "SALES-E", "SALES-W", "SALES-C", "KEY", "CHANNEL")
KEY_GROUP, CHANNEL_GROUP = 5, 6

CAMPAIGN_KINDS = (  # kind, weight, channel of its messages, days it runs (min, max), base budget
    ("email", 0.30, "email", (3, 10), 4_000),
    ("webinar", 0.14, "web", (1, 2), 6_000),
    ("event", 0.10, "email", (1, 3), 25_000),
    ("trade_show", 0.08, "letter", (3, 5), 60_000),
    ("advertising", 0.12, "web", (20, 45), 30_000),
    ("telemarketing", 0.14, "phone", (10, 25), 12_000),
    ("direct_mail", 0.12, "letter", (10, 20), 9_000),
)
CAMPAIGN_THEMES = (
    "Server refresh",
    "Security awareness",
    "Cloud subscriptions",
    "Printer fleet",
    "Training week",
    "Network upgrade",
    "Year-end licences",
    "Managed services",
    "Back to office",
    "Spare parts stock-up",
)
MESSAGE_TEMPLATES = (  # key, name, channel, subject, body
    (
        "campaign_email",
        "Campaign email",
        "email",
        "{campaign_name}",
        "Dear {contact_name}, we would like to invite you",
    ),
    ("campaign_web", "Webinar invitation", "web", "Join us: {campaign_name}", "Register for {campaign_name} online."),
    ("campaign_phone", "Telemarketing script", "phone", None, "Introduce {campaign_name} to {contact_name}."),
    (
        "campaign_letter",
        "Catalogue letter",
        "letter",
        "{campaign_name}",
        "Dear {contact_name}, please find our catalogue.",
    ),
    ("flash_sms", "Flash offer SMS", "sms", None, "{account_name}: this week only, see our offer {campaign_name}."),
    (
        "order_confirmation",
        "Order confirmation",
        "email",
        "Order {order_number} confirmed",
        "Thank you for your order.",
    ),
    ("payment_reminder", "Payment reminder SMS", "sms", None, "Reminder: an instalment of {amount} is overdue."),
    ("quote_fax", "Quote cover fax", "fax", "Quote {quote_number}", "Please find our quote attached."),
    ("welcome", "Welcome email", "email", "Welcome, {account_name}", "Dear {contact_name}, welcome aboard."),
    ("service_follow_up", "Service follow-up", "email", "Your case {case_number}", "How did we do? Please rate us."),
)


@dataclass
class Staff:
    ids: np.ndarray
    dept_ids: np.ndarray
    weights: np.ndarray  # share of the work each gets
    skill: np.ndarray  # sales reps: odds multiplier of advancing a deal; agents: speed multiplier
    quality: np.ndarray  # agents: satisfaction shift


@dataclass
class SurveyInfo:
    survey_id: int
    question_ids: np.ndarray
    weights: np.ndarray
    max_scores: np.ndarray


@dataclass
class World:
    """Ids and latent traits of everything customers' stories refer to."""

    pipeline: Pipeline
    dept: dict[str, int]
    users: dict[str, int]  # demo usernames and key staff ("fin", "purch", "head:<dept code>")
    password_hash: str
    reps: Staff
    rep_group: np.ndarray  # sales group index (SALES_GROUPS) of each rep
    agents: Staff
    agent_field: np.ndarray  # field-service agents (repairs)
    analysts: np.ndarray
    managers: np.ndarray  # every department head (user ids)
    catalogue: Catalogue
    category_ids: np.ndarray  # leaf category ids
    root_category_ids: np.ndarray
    policy_ids: np.ndarray  # assignable price policies: partner, key account, volume, public sector
    partner_ids: np.ndarray
    partner_region: np.ndarray
    supplier_ids: np.ndarray
    product_supplier: np.ndarray  # supplier id of each product
    competitor_ids: np.ndarray
    competitor_product_ids: np.ndarray
    competitor_product_owner: np.ndarray  # competitor index of each competitor product
    campaign_ids: np.ndarray
    campaign_start: np.ndarray
    campaign_end: np.ndarray
    campaign_channel: np.ndarray
    campaign_names: pa.Array
    campaign_template: np.ndarray
    campaign_status: np.ndarray
    campaign_owner: np.ndarray
    templates: dict[str, int]
    surveys: dict[str, SurveyInfo]
    market_campaign_id: int
    counts: dict[str, int] = field(default_factory=dict)


class Ids:
    """Explicit primary keys, handed out in order per table (foreign keys are known before inserting)."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._next: dict[str, int] = {}

    def take(self, table: str, n: int) -> np.ndarray:
        start = self._next.get(table)
        if start is None:
            start = self._sink.next_id(table)
        self._next[table] = start + n
        return np.arange(start, start + n, dtype=np.int64)


def text_join(*parts: Any, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    arrays = [p if isinstance(p, pa.Array | pa.ChunkedArray) else pa.scalar(str(p)) for p in parts]
    arrays = [a.cast(pa.string()) if isinstance(a, pa.Array) and a.type != pa.string() else a for a in arrays]
    return pc.binary_join_element_wise(*arrays, sep)


def numbered(prefix: str, ids: np.ndarray, width: int = 7) -> pa.Array:
    """Document numbers as crm_app.services.records.next_number writes them: ``SO-0000042``."""
    digits = pc.utf8_lpad(pa.array(ids).cast(pa.string()), width=width, padding="0")
    return text_join(f"{prefix}-", digits)


def pick(rng: np.random.Generator, values: tuple | list, n: int, p: Any = None) -> pa.Array:
    index = rng.choice(len(values), size=n, p=None if p is None else np.asarray(p) / np.sum(p))
    return pa.array(list(values)).take(pa.array(index))


def person_names(rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array]:
    return pick(rng, vocab.FIRST_NAMES, n), pick(rng, vocab.LAST_NAMES, n)


def email_of(first: pa.Array, last: pa.Array, domain: pa.Array | str) -> pa.Array:
    local = pc.utf8_lower(text_join(first, ".", last))
    return text_join(pc.replace_substring(local, " ", ""), "@", domain)


def phones(rng: np.random.Generator, n: int) -> pa.Array:
    digits = rng.integers(1_000_000, 9_999_999, n)
    area = rng.integers(30, 99, n)
    return text_join("+49 ", pa.array(area).cast(pa.string()), " ", pa.array(digits).cast(pa.string()))


class WorldBuilder:
    """Creates the company (reference data) and writes it; sizes scale with the number of customers."""

    def __init__(self, sink: Sink, ids: Ids, clock: Clock, rng: np.random.Generator, customers: int, now: str):
        self.sink, self.ids, self.clock, self.rng, self.n_customers, self.now = sink, ids, clock, rng, customers, now
        self.counts: dict[str, int] = {}

    def write(self, table: str, columns: dict[str, Any]) -> None:
        data = frame(table, columns, now=self.now)
        self.sink.write(table, data)
        self.counts[table] = self.counts.get(table, 0) + data.num_rows

    def before_start(self, n: int, low: float = 60, high: float = 1500) -> pa.Array:
        """Creation times of things the company had before the history starts."""
        return self.clock.datetimes(-self.rng.uniform(low, high, n))

    # ---------------------------------------------------------------------------------------------

    def build(self, pipeline: Pipeline, password_hash: str) -> World:
        dept = self._departments()
        users, reps, rep_group, agents, agent_field, analysts, managers = self._staff(dept, password_hash)
        catalogue, leaf_ids, root_ids, policy_ids = self._catalogue()
        self._custom_fields()
        supplier_ids, product_supplier = self._suppliers(users, dept, catalogue)
        partner_ids, partner_region = self._partners(reps, rep_group, dept, policy_ids)
        competitor_ids, cp_ids, cp_owner = self._competitors(catalogue, leaf_ids)
        templates = self._templates()
        campaigns = self._campaigns(analysts, dept, templates)
        surveys = self._surveys(campaigns["market"])
        self._document_templates(catalogue)
        return World(
            pipeline=pipeline,
            dept=dept,
            users=users,
            password_hash=password_hash,
            reps=reps,
            rep_group=rep_group,
            agents=agents,
            agent_field=agent_field,
            analysts=analysts,
            managers=managers,
            catalogue=catalogue,
            category_ids=leaf_ids,
            root_category_ids=root_ids,
            policy_ids=policy_ids,
            partner_ids=partner_ids,
            partner_region=partner_region,
            supplier_ids=supplier_ids,
            product_supplier=product_supplier,
            competitor_ids=competitor_ids,
            competitor_product_ids=cp_ids,
            competitor_product_owner=cp_owner,
            campaign_ids=campaigns["ids"],
            campaign_start=campaigns["start"],
            campaign_end=campaigns["end"],
            campaign_channel=campaigns["channel"],
            campaign_names=campaigns["names"],
            campaign_template=campaigns["template"],
            campaign_status=campaigns["status"],
            campaign_owner=campaigns["owner"],
            templates=templates,
            surveys=surveys,
            market_campaign_id=campaigns["market"],
            counts=self.counts,
        )

    def _departments(self) -> dict[str, int]:
        ids = self.ids.take("departments", len(DEPARTMENTS))
        dept = {code: int(i) for (code, _, _), i in zip(DEPARTMENTS, ids, strict=True)}
        self.write(
            "departments",
            {
                "id": ids,
                "code": [d[0] for d in DEPARTMENTS],
                "name": [d[1] for d in DEPARTMENTS],
                "parent_id": pa.array([dept[p] if p else None for _, _, p in DEPARTMENTS], pa.int64()),
                "created_at": self.clock.datetimes(-np.linspace(2000, 1500, len(DEPARTMENTS))),
            },
        )
        return dept

    def _staff(self, dept: dict[str, int], password_hash: str) -> tuple:
        rng, n = self.rng, self.n_customers
        n_reps = int(np.clip(round(n / 350), len(SALES_GROUPS), 400))
        n_agents = int(np.clip(round(n / 1500), 3, 150))
        n_analysts = int(np.clip(1 + n // 25_000, 2, 12))
        # reps per sales group: key accounts 10 %, channel 8 %, the rest by region size
        shares = np.r_[np.array(vocab.REGION_WEIGHTS) * 0.82, 0.10, 0.08]
        per_group = np.maximum(1, np.floor(shares * n_reps).astype(int))
        rows: list[dict[str, Any]] = []
        for username, role, dept_code, full_name, _ in DEMO_USERS:
            rows.append({"username": username, "role": role, "dept": dept_code, "full_name": full_name})
        heads = {"HQ": "exec", "SALES-E": "manager"}
        for code, _, _ in DEPARTMENTS:
            if code not in heads:
                heads[code] = f"head:{code}"
                rows.append({"username": None, "role": "manager", "dept": code, "full_name": None, "key": heads[code]})
        for g, code in enumerate(SALES_GROUPS):
            # the demo rep (already listed) is the first of Sales East's reps
            for _ in range(per_group[g] - (1 if code == "SALES-E" else 0)):
                rows.append({"username": None, "role": "sales_rep", "dept": code, "full_name": None})
        n_field = max(1, round(n_agents * 0.3))
        for k in range(n_agents - 1):
            code = "FIELD" if k < n_field else "SUPPORT"
            rows.append({"username": None, "role": "service_agent", "dept": code, "full_name": None})
        for _ in range(n_analysts - 1):
            rows.append({"username": None, "role": "marketing_analyst", "dept": "MKT", "full_name": None})
        generated = [i for i, r in enumerate(rows) if r["username"] is None]
        first, last = person_names(rng, len(generated))
        taken = set(self.sink.values("select username from users")) | {u[0] for u in DEMO_USERS}
        for j, i in enumerate(generated):
            full = f"{first[j].as_py()} {last[j].as_py()}"
            base = full.lower().replace(" ", ".")
            username, k = base, 1
            while username in taken:
                k += 1
                username = f"{base}{k}"
            taken.add(username)
            rows[i]["username"], rows[i]["full_name"] = username, full
        by_key = {r["key"]: r["username"] for r in rows if r.get("key")}
        head_of = {code: by_key.get(u, u) for code, u in heads.items()}
        parent = {code: p for code, _, p in DEPARTMENTS}
        for r in rows:
            boss: str | None = head_of[r["dept"]]
            above: str | None = r["dept"]
            while boss == r["username"]:  # a head reports to the head of the department above
                above = parent[above] if above else None
                boss = head_of[above] if above else None
            r["boss"] = boss
        depth = {}
        for r in rows:
            d, boss = 0, r["boss"]
            while boss is not None:
                d += 1
                boss = next(x["boss"] for x in rows if x["username"] == boss)
            depth[r["username"]] = d
        rows.sort(key=lambda r: depth[r["username"]])  # stable: bosses are written before their staff
        ids = self.ids.take("users", len(rows))
        user_id = {r["username"]: int(i) for r, i in zip(rows, ids, strict=True)}
        head_ids = {code: user_id[u] for code, u in head_of.items()}
        manager_of = [user_id[r["boss"]] if r["boss"] else None for r in rows]
        self.write(
            "users",
            {
                "id": ids,
                "username": [r["username"] for r in rows],
                "full_name": [r["full_name"] for r in rows],
                "email": [f"{r['username']}@crm-demo.example" for r in rows],
                "password_hash": password_hash,
                "role": [r["role"] for r in rows],
                "department_id": np.array([dept[r["dept"]] for r in rows]),
                "manager_id": pa.array(manager_of, pa.int64()),
                "hired_on": self.clock.dates(-rng.uniform(120, 3000, len(rows))),
                "created_at": self.before_start(len(rows), 100, 1400),
            },
        )
        for code, head in head_ids.items():
            self.sink.execute(f"update departments set manager_id = {head} where id = {dept[code]}")

        roles = np.array([r["role"] for r in rows])
        dept_of = np.array([dept[r["dept"]] for r in rows])
        rep_index = np.array([user_id[r["username"]] for r in rows if r["role"] == "sales_rep"])
        rep_dept = np.array([dept[r["dept"]] for r in rows if r["role"] == "sales_rep"])
        group_of_dept = {dept[c]: g for g, c in enumerate(SALES_GROUPS)}
        rep_group = np.array([group_of_dept[d] for d in rep_dept])
        reps = Staff(
            ids=rep_index,
            dept_ids=rep_dept,
            weights=rng.gamma(6.0, 1 / 6.0, len(rep_index)),
            skill=np.exp(rng.normal(0, 0.45, len(rep_index))),
            quality=np.zeros(len(rep_index)),
        )
        agent_mask = roles == "service_agent"
        n_agent = int(np.count_nonzero(agent_mask))
        agents = Staff(
            ids=ids[agent_mask],
            dept_ids=dept_of[agent_mask],
            weights=rng.gamma(5.0, 1 / 5.0, n_agent),
            skill=np.exp(rng.normal(0, 0.3, n_agent)),
            quality=rng.normal(0, 0.45, n_agent),
        )
        agents.weights[0] *= 2.5  # the demo agent (first) carries a visible share of the open cases
        users = {u[0]: user_id[u[0]] for u in DEMO_USERS}
        users.update({f"head:{c}": h for c, h in head_ids.items()})
        analysts = ids[roles == "marketing_analyst"]
        return (
            users,
            reps,
            rep_group,
            agents,
            agents.dept_ids == dept["FIELD"],
            analysts,
            np.array(sorted(set(head_ids.values()))),
        )

    def _catalogue(self) -> tuple[Catalogue, np.ndarray, np.ndarray, np.ndarray]:
        rng, clock = self.rng, self.clock
        roots = list(vocab.CATALOGUE.items())
        leaves = [(r, leaf) for r, (_, (_, _, leaf_list)) in enumerate(roots) for leaf in leaf_list]
        root_ids = self.ids.take("product_categories", len(roots))
        leaf_ids = self.ids.take("product_categories", len(leaves))
        self.write(
            "product_categories",
            {
                "id": np.r_[root_ids, leaf_ids],
                "code": [code for code, _ in roots] + [leaf[0] for _, leaf in leaves],
                "name": [spec[0] for _, spec in roots] + [leaf[1] for _, leaf in leaves],
                "parent_id": pa.array([None] * len(roots) + [int(root_ids[r]) for r, _ in leaves], pa.int64()),
                "created_at": self.before_start(len(roots) + len(leaves), 1400, 1500),
            },
        )
        per_leaf = rng.integers(6, 14, len(leaves))
        leaf = np.repeat(np.arange(len(leaves)), per_leaf)
        n = len(leaf)
        root = np.array([leaves[i][0] for i in leaf])
        median = np.array([leaves[i][1][3] for i in leaf])
        whole = np.maximum(1, np.round(median * np.exp(rng.normal(0, 0.45, n))))
        price = np.where(whole > 5, whole * 100 - 1, whole * 100).astype(np.int64)  # 149.99-style prices
        ratio = np.array([roots[r][1][1] for r in root]) * np.exp(rng.normal(0, 0.08, n))
        cost_now = np.round(price * np.minimum(ratio, 0.95)).astype(np.int64)
        # unit cost at the time: hardware gets cheaper, services dearer, plus month-to-month noise
        drift = np.array([-0.03, 0.0, 0.04, 0.03, 0.01])[root]
        months = len(clock.month_starts)
        years_ago = (clock.current_month - np.arange(months)) / 12.0
        factor = (1 - drift[:, None] * np.maximum(years_ago, 0)[None, :]) * (1 + rng.normal(0, 0.012, (n, months)))
        cost = np.maximum(1, np.round(cost_now[:, None] * factor)).astype(np.int64)
        cost[:, clock.current_month :] = cost_now[:, None]
        weight_leaf = np.array([{"CON": 3.0, "PART": 1.6, "SW": 1.4, "HW": 1.0, "SVC": 0.8}[roots[r][0]] for r in root])
        rank = np.concatenate([rng.permutation(k) + 1 for k in per_leaf])
        weights = weight_leaf / rank**0.8
        popularity = np.cumsum(weights)
        bounds = np.r_[0, np.cumsum(per_leaf)]
        leaf_lo = np.r_[0.0, popularity][bounds[:-1]]
        leaf_hi = popularity[bounds[1:] - 1]
        leaf_code = [lf[0] for _, lf in leaves]
        companion_leaf = np.array([leaf_code.index(vocab.COMPANION_LEAF[leaf_code[i]]) for i in leaf])
        companion = bounds[companion_leaf] + (rng.integers(0, 1 << 30, n) % per_leaf[companion_leaf])
        words = [rng.choice(leaves[i][1][6]) for i in leaf]
        brands = rng.choice(vocab.PRODUCT_BRANDS, n)
        models = rng.integers(100, 990, n)
        names = [f"{b} {w} {chr(65 + m % 26)}{m}" for b, w, m in zip(brands, words, models, strict=True)]
        product_ids = self.ids.take("products", n)
        seq = np.arange(n) - bounds[leaf] + 1
        hardware = np.isin(root, [0, 4])
        warranty = np.where(hardware, rng.choice([12, 24, 36], n), 0)
        origin = rng.choice(vocab.ORIGIN_COUNTRIES, n)
        custom = [
            {"warranty_months": int(w), "origin_country": str(o)} if w else {"origin_country": str(o)}
            for w, o in zip(warranty, origin, strict=True)
        ]
        self.write(
            "products",
            {
                "id": product_ids,
                "sku": [f"{leaf_code[i]}-{s:04d}" for i, s in zip(leaf, seq, strict=True)],
                "name": names,
                "category_id": leaf_ids[leaf],
                "unit": [leaves[i][1][2] for i in leaf],
                "list_price": cents(price),
                "unit_cost": cents(cost_now),
                "description": [
                    f"{w} by {b} ({leaves[i][1][1].lower()})" for w, b, i in zip(words, brands, leaf, strict=True)
                ],
                "custom": json_texts(custom),
                "created_at": self.before_start(n, 200, 1400),
            },
        )
        policy_ids, policy_price, policy_discount = self._price_policies(
            product_ids, leaf, leaf_ids, leaf_code, price, weights
        )
        catalogue = Catalogue(
            product_ids=product_ids,
            leaf=leaf,
            root=root,
            price_cents=price,
            cost_cents=cost,
            qty_extra=np.array([leaves[i][1][4] for i in leaf]),
            defect=np.array([leaves[i][1][5] for i in leaf]) * np.exp(rng.normal(0, 0.5, n)),
            popularity=popularity,
            leaf_lo=leaf_lo,
            leaf_hi=leaf_hi,
            companion=companion,
            names=pa.array(names),
            policy_price_cents=policy_price,
            policy_discount_bp=policy_discount,
            is_hardware=hardware,
        )
        return catalogue, leaf_ids, root_ids, policy_ids

    def _price_policies(
        self,
        product_ids: np.ndarray,
        leaf: np.ndarray,
        leaf_ids: np.ndarray,
        leaf_code: list[str],
        price: np.ndarray,
        weights: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Policies with category and product items, and the price table they imply per product."""
        top = np.argsort(-weights)[:3]
        # name, default %, active, items: (leaf code or product index, discount %, fixed price in cents)
        policies: tuple[tuple[str, float, bool, list[tuple[str | int, float, int | None]]], ...] = (
            ("Partner channel", 15.0, True, [("SW-LIC", 25.0, None), ("SW-SUB", 25.0, None), ("SVC-CON", 10.0, None)]),
            ("Key account", 8.0, True, [("HW-SRV", 12.0, None)] + [(int(p), 0.0, int(price[p] * 0.9)) for p in top]),
            ("Volume buyer", 5.0, True, [("CON-PAP", 10.0, None), ("CON-INK", 10.0, None), ("CON-CAB", 10.0, None)]),
            ("Public sector framework", 6.0, True, [("SVC-TRN", 12.0, None)]),
            ("Launch offer (expired)", 10.0, False, []),
        )
        ids = self.ids.take("price_policies", len(policies))
        today = self.clock.today
        self.write(
            "price_policies",
            {
                "id": ids,
                "name": [p[0] for p in policies],
                "description": [f"{p[1]:g} % off list price unless an item says otherwise" for p in policies],
                "default_discount_pct": np.array([p[1] for p in policies]),
                "valid_from": self.clock.dates(np.array([-400.0, -400, -400, 0, -700])),
                "valid_to": self.clock.dates(np.array([np.nan, np.nan, np.nan, today + 365, -300.0])),
                "is_active": np.array([p[2] for p in policies]),
                "created_at": self.before_start(len(policies), 400, 800),
            },
        )
        n_products = len(product_ids)
        table_price = np.tile(price, (len(policies) + 1, 1))
        table_discount = np.zeros((len(policies) + 1, n_products), dtype=np.int64)
        item_rows: dict[str, list[Any]] = {"policy": [], "product": [], "category": [], "discount": [], "fixed": []}
        for j, (_, default, active, items) in enumerate(policies, start=1):
            if not active:  # an inactive policy prices at list (policy_price ignores it)
                continue
            table_discount[j, :] = round(default * 100)
            for target, discount, fixed in items:
                if isinstance(target, str):
                    chosen = leaf == leaf_code.index(target)
                    item_rows["product"].append(None)
                    item_rows["category"].append(int(leaf_ids[leaf_code.index(target)]))
                else:
                    chosen = np.arange(n_products) == target
                    item_rows["product"].append(int(product_ids[target]))
                    item_rows["category"].append(None)
                item_rows["policy"].append(int(ids[j - 1]))
                item_rows["discount"].append(discount)
                item_rows["fixed"].append(None if fixed is None else fixed / 100)
                # a product item wins over a category item: products are applied last
                table_discount[j, chosen] = round(discount * 100)
                if fixed is not None:
                    table_price[j, chosen] = fixed
        n_items = len(item_rows["policy"])
        self.write(
            "price_policy_items",
            {
                "id": self.ids.take("price_policy_items", n_items),
                "price_policy_id": np.array(item_rows["policy"]),
                "product_id": pa.array(item_rows["product"], pa.int64()),
                "category_id": pa.array(item_rows["category"], pa.int64()),
                "discount_pct": pa.array(item_rows["discount"], pa.float64()),
                "fixed_price": pa.array(item_rows["fixed"], pa.float64()),
                "created_at": self.before_start(n_items, 300, 400),
            },
        )
        return ids[:4], table_price, table_discount

    def _custom_fields(self) -> None:
        fields = (  # entity, name, label, type, choices
            ("accounts", "erp_system", "ERP system in use", "choice", list(vocab.ERP_SYSTEMS)),
            ("accounts", "employee_count", "Employees", "number", None),
            ("accounts", "nda_signed", "NDA signed", "boolean", None),
            ("products", "warranty_months", "Warranty (months)", "number", None),
            ("products", "origin_country", "Country of origin", "choice", list(vocab.ORIGIN_COUNTRIES)),
        )
        self.write(
            "custom_field_definitions",
            {
                "id": self.ids.take("custom_field_definitions", len(fields)),
                "entity": [f[0] for f in fields],
                "name": [f[1] for f in fields],
                "label": [f[2] for f in fields],
                "field_type": [f[3] for f in fields],
                "choices": json_texts(f[4] for f in fields),
                "position": np.array([1, 2, 3, 1, 2]),
                "created_at": self.before_start(len(fields), 300, 500),
            },
        )

    def _company_accounts(self, kind: str, n: int, prefix: str, words: tuple[str, ...]) -> dict[str, Any]:
        rng = self.rng
        ids = self.ids.take("accounts", n)
        region = rng.choice(len(vocab.REGIONS), n, p=vocab.REGION_WEIGHTS)
        regions = list(vocab.REGIONS)
        city = [vocab.REGIONS[regions[r]][1][k] for r, k in zip(region, rng.integers(0, 5, n), strict=True)]
        name = text_join(
            pick(rng, vocab.NAME_PREFIXES, n), " ", pick(rng, words, n), " ", pick(rng, vocab.NAME_SUFFIXES, n)
        )
        name = pc.utf8_trim_whitespace(name)
        slug = pc.utf8_lower(pc.replace_substring_regex(name, r"[^A-Za-z0-9]+", "-"))
        return {
            "id": ids,
            "kind": kind,
            "name": name,
            "external_ref": numbered(prefix, np.arange(1, n + 1), 5),
            "industry": "Technology",
            "region": pa.array(regions).take(pa.array(region)),
            "city": city,
            "size": pick(self.rng, ("medium", "large", "enterprise"), n, (0.5, 0.35, 0.15)),
            "phone": phones(rng, n),
            "email": text_join("office@", slug, ".example"),
            "website": text_join("https://", slug, ".example"),
            "created_at": self.before_start(n, 100, 1200),
            "_region": region,
        }

    def _suppliers(self, users: dict[str, int], dept: dict[str, int], catalogue: Catalogue) -> tuple:
        n = int(np.clip(self.n_customers // 5000, 6, 40))
        cols = self._company_accounts("supplier", n, "SUPP", ("Supply", "Wholesale", "Components", "Distribution"))
        cols.pop("_region")
        cols.update({"owner_id": users["head:PURCH"], "department_id": dept["PURCH"], "tier": "A"})
        self.write("accounts", cols)
        self._company_contacts(cols["id"], cols["email"], users["head:PURCH"])
        # every root category has suppliers; a product comes from one of its category's suppliers
        n_roots = int(catalogue.root.max()) + 1
        supplier_root = np.arange(n) % n_roots
        product_supplier = np.empty(catalogue.size, dtype=np.int64)
        for r in range(n_roots):
            candidates = cols["id"][supplier_root == r]
            chosen = catalogue.root == r
            product_supplier[chosen] = self.rng.choice(candidates, chosen.sum())
        return cols["id"], product_supplier

    def _partners(self, reps: Staff, rep_group: np.ndarray, dept: dict[str, int], policy_ids: np.ndarray) -> tuple:
        rng = self.rng
        n = int(np.clip(self.n_customers // 300, 4, 400))
        cols = self._company_accounts("partner", n, "PART", ("IT Solutions", "Systems", "Computer Service", "Networks"))
        region = cols.pop("_region")
        distributors = max(2, n // 5)
        parent = [None] * distributors + [int(cols["id"][k]) for k in rng.integers(0, distributors, n - distributors)]
        channel_reps = reps.ids[rep_group == CHANNEL_GROUP]
        cols.update(
            {
                "lifecycle_stage": "signed",
                "tier": pa.array(["A"] * distributors + list(rng.choice(["B", "C"], n - distributors))),
                "source": "partner",
                "parent_id": pa.array(parent, pa.int64()),
                "owner_id": rng.choice(channel_reps, n),
                "department_id": dept["CHANNEL"],
                "price_policy_id": int(policy_ids[0]),
                "credit_limit": cents(rng.integers(50, 500, n) * 100_000),
            }
        )
        self.write("accounts", cols)
        self._company_contacts(cols["id"], cols["email"], None)
        return cols["id"], region

    def _company_contacts(self, account_ids: np.ndarray, emails: pa.Array, owner: int | None) -> None:
        rng, n = self.rng, 2 * len(account_ids)
        first, last = person_names(rng, n)
        domain = pc.utf8_slice_codeunits(pa.array(emails).take(pa.array(np.repeat(np.arange(len(account_ids)), 2))), 7)
        self.write(
            "contacts",
            {
                "id": self.ids.take("contacts", n),
                "account_id": np.repeat(account_ids, 2),
                "first_name": first,
                "last_name": last,
                "title": pick(rng, ("Managing director", "Sales manager", "Account manager"), n),
                "email": email_of(first, last, domain),
                "phone": phones(rng, n),
                "is_primary": np.tile([True, False], len(account_ids)),
                "owner_id": owner,
                "created_at": self.before_start(n, 60, 100),
            },
        )

    def _competitors(self, catalogue: Catalogue, leaf_ids: np.ndarray) -> tuple:
        rng = self.rng
        specs = vocab.COMPETITORS
        ids = self.ids.take("competitors", len(specs))
        self.write(
            "competitors",
            {
                "id": ids,
                "name": [c[0] for c in specs],
                "website": [f"https://{c[1]}" for c in specs],
                "strengths": [c[2] for c in specs],
                "weaknesses": [c[3] for c in specs],
                "created_at": self.before_start(len(specs), 200, 900),
            },
        )
        owner = np.repeat(np.arange(len(specs)), 3)
        n = len(owner)
        ours = np.searchsorted(catalogue.popularity, rng.random(n) * catalogue.popularity[-1], side="right")
        ours = np.minimum(ours, catalogue.size - 1)
        factor = rng.uniform(0.8, 1.12, n)
        price = np.round(catalogue.price_cents[ours] * factor).astype(np.int64)
        comparison = [
            f"{abs(round((f - 1) * 100))} % {'cheaper' if f < 1 else 'dearer'} than {catalogue.names[o].as_py()}"
            for f, o in zip(factor, ours, strict=True)
        ]
        cp_ids = self.ids.take("competitor_products", n)
        self.write(
            "competitor_products",
            {
                "id": cp_ids,
                "competitor_id": ids[owner],
                "name": [
                    f"{specs[c][0].split()[0]} {catalogue.names[o].as_py().split(' ', 1)[1]}"
                    for c, o in zip(owner, ours, strict=True)
                ],
                "category_id": leaf_ids[catalogue.leaf[ours]],
                "compared_product_id": catalogue.product_ids[ours],
                "price": cents(price),
                "comparison": comparison,
                "created_at": self.before_start(n, 100, 300),
            },
        )
        return ids, cp_ids, owner

    def _templates(self) -> dict[str, int]:
        ids = self.ids.take("templates", len(MESSAGE_TEMPLATES))
        self.write(
            "templates",
            {
                "id": ids,
                "name": [t[1] for t in MESSAGE_TEMPLATES],
                "channel": [t[2] for t in MESSAGE_TEMPLATES],
                "subject": [t[3] for t in MESSAGE_TEMPLATES],
                "body": [t[4] for t in MESSAGE_TEMPLATES],
                "created_at": self.before_start(len(ids), 200, 600),
            },
        )
        return {t[0]: int(i) for t, i in zip(MESSAGE_TEMPLATES, ids, strict=True)}

    def _campaigns(self, analysts: np.ndarray, dept: dict[str, int], templates: dict[str, int]) -> dict[str, Any]:
        rng, clock = self.rng, self.clock
        months = clock.months + 2  # two months of planned campaigns ahead
        per_month = rng.integers(2, 5, months)
        month = np.repeat(np.arange(months), per_month)
        n = len(month)
        weights = np.array([k[1] for k in CAMPAIGN_KINDS])
        kind = rng.choice(len(CAMPAIGN_KINDS), n, p=weights / weights.sum())
        start = clock.month_starts[month] + rng.integers(0, 21, n)
        days = np.array([rng.integers(CAMPAIGN_KINDS[k][3][0], CAMPAIGN_KINDS[k][3][1] + 1) for k in kind])
        end = start + days - 1
        today = clock.today
        status = np.where(end < today, "completed", np.where(start <= today, "active", "planned"))
        cancelled = (status == "completed") & (rng.random(n) < 0.04)
        status = np.where(cancelled, "cancelled", status)
        scale = max(0.3, (self.n_customers / 2000) ** 0.6)
        budget = np.round(np.array([CAMPAIGN_KINDS[k][4] for k in kind]) * scale * rng.uniform(0.6, 1.5, n), -2) * 100
        elapsed = np.clip((today - start) / np.maximum(days, 1), 0, 1)
        spent = np.select(
            [status == "completed", status == "active", status == "cancelled"],
            [budget * rng.uniform(0.75, 1.18, n), budget * elapsed * rng.uniform(0.8, 1.1, n), budget * 0.1],
            0,
        )
        channel = np.array([CAMPAIGN_KINDS[k][2] for k in kind])
        kind_names = np.array([CAMPAIGN_KINDS[k][0] for k in kind])
        flash = (kind_names == "email") & (rng.random(n) < 0.3)  # some e-mail campaigns go out by SMS
        channel = np.where(flash, "sms", channel)
        template_key = {
            "email": "campaign_email",
            "web": "campaign_web",
            "phone": "campaign_phone",
            "letter": "campaign_letter",
            "sms": "flash_sms",
        }
        template = np.array([templates[template_key[c]] for c in channel])
        theme = rng.choice(CAMPAIGN_THEMES, n)
        label = [
            f"{clock.month_date(int(m)).strftime('%b %Y')} {t} {k.replace('_', ' ')}"
            for m, t, k in zip(month, theme, kind_names, strict=True)
        ]
        owner = analysts[np.arange(n) % len(analysts)]
        ids = self.ids.take("campaigns", n)
        self.write(
            "campaigns",
            {
                "id": ids,
                "name": label,
                "kind": kind_names,
                "status": status,
                "start_date": clock.dates(start),
                "end_date": clock.dates(end),
                "budget": cents(budget),
                "actual_cost": cents(np.round(spent)),
                "content": [
                    f"{t}: offers and news for {k.replace('_', ' ')} contacts"
                    for t, k in zip(theme, kind_names, strict=True)
                ],
                "target_description": rng.choice(
                    ["Active customers", "Prospects in the region", "Lapsed customers", "Key accounts", "All contacts"],
                    n,
                ),
                "owner_id": owner,
                "department_id": dept["MKT"],
                "created_at": clock.datetimes(np.minimum(start - rng.uniform(7, 30, n), clock.end - 0.01)),
            },
        )
        past = np.flatnonzero(status == "completed")
        market = int(ids[past[len(past) // 2]]) if len(past) else int(ids[0])
        return {
            "ids": ids,
            "start": start,
            "end": end + 0.999,
            "channel": channel,
            "template": template,
            "status": status,
            "owner": owner,
            "market": market,
            "names": pa.array(label),
        }

    def _surveys(self, market_campaign: int) -> dict[str, SurveyInfo]:
        yes_no = [{"label": "yes", "score": 1}, {"label": "no", "score": 0}]
        specs = {  # key: (name, kind, campaign, questions: (text, kind, choices, weight, max score))
            "service": (
                "Service satisfaction survey",
                "service",
                None,
                (
                    ("How satisfied are you with how we handled your case?", "rating", None, 2, 5),
                    ("How quickly was your issue resolved?", "rating", None, 1, 5),
                    ("Would you recommend us to a colleague?", "yes_no", yes_no, 1, 1),
                    ("What could we do better?", "text", None, 0, 5),
                ),
            ),
            "market": (
                "Market survey: IT spending",
                "market",
                market_campaign,
                (
                    (
                        "Which supplier do you buy most IT from today?",
                        "choice",
                        [{"label": c[0], "score": 0} for c in vocab.COMPETITORS[:4]] + [{"label": "us", "score": 0}],
                        0,
                        5,
                    ),
                    ("Planned IT budget next year (EUR)", "number", None, 0, 5),
                    ("How interested are you in managed services?", "rating", None, 1, 5),
                ),
            ),
            "evaluation": (
                "Opportunity evaluation",
                "opportunity_evaluation",
                None,
                (
                    ("Budget confirmed", "yes_no", yes_no, 2, 1),
                    ("Decision maker involved", "rating", None, 2, 5),
                    ("Fit with our offering", "rating", None, 3, 5),
                    (
                        "Competitive pressure",
                        "choice",
                        [
                            {"label": "none", "score": 3},
                            {"label": "one competitor", "score": 2},
                            {"label": "several competitors", "score": 1},
                        ],
                        1,
                        3,
                    ),
                    (
                        "Expected timeline",
                        "choice",
                        [
                            {"label": "this quarter", "score": 3},
                            {"label": "next quarter", "score": 2},
                            {"label": "later", "score": 1},
                        ],
                        1,
                        3,
                    ),
                ),
            ),
        }
        survey_ids = self.ids.take("surveys", len(specs))
        self.write(
            "surveys",
            {
                "id": survey_ids,
                "name": [s[0] for s in specs.values()],
                "kind": [s[1] for s in specs.values()],
                "campaign_id": pa.array([s[2] for s in specs.values()], pa.int64()),
                "description": [f"{s[0]} ({len(s[3])} questions)" for s in specs.values()],
                "created_at": self.before_start(len(specs), 60, 90),
            },
        )
        out = {}
        for (key, spec), survey_id in zip(specs.items(), survey_ids, strict=True):
            questions = spec[3]
            q_ids = self.ids.take("survey_questions", len(questions))
            self.write(
                "survey_questions",
                {
                    "id": q_ids,
                    "survey_id": int(survey_id),
                    "position": np.arange(1, len(questions) + 1),
                    "text": [q[0] for q in questions],
                    "kind": [q[1] for q in questions],
                    "choices": json_texts(q[2] for q in questions),
                    "weight": np.array([q[3] for q in questions], dtype=np.float64),
                    "max_score": np.array([q[4] for q in questions], dtype=np.float64),
                    "created_at": self.before_start(len(questions), 60, 61),
                },
            )
            out[key] = SurveyInfo(
                int(survey_id),
                q_ids,
                np.array([q[3] for q in questions], float),
                np.array([q[4] for q in questions], float),
            )
        return out

    def _document_templates(self, catalogue: Catalogue) -> None:
        leaf_first = {
            code: int(np.flatnonzero(catalogue.leaf == i)[0])
            for i, code in enumerate([lf[0] for _, (_, _, leaves) in vocab.CATALOGUE.items() for lf in leaves])
        }
        specs = (
            ("Starter workstation bundle", "order", (("HW-PC", 1), ("HW-PER", 2), ("SW-LIC", 1))),
            ("Server installation package", "quote", (("HW-SRV", 1), ("PART-MEM", 4), ("SVC-INS", 2), ("SVC-SUP", 1))),
            ("Office consumables refill", "order", (("CON-PAP", 20), ("CON-INK", 6), ("CON-CAB", 10))),
        )
        ids = self.ids.take("document_templates", len(specs))
        self.write(
            "document_templates",
            {
                "id": ids,
                "name": [s[0] for s in specs],
                "document": [s[1] for s in specs],
                "created_at": self.before_start(len(specs), 60, 200),
            },
        )
        lines = [
            (int(t), pos, leaf_first[code], qty)
            for t, s in zip(ids, specs, strict=True)
            for pos, (code, qty) in enumerate(s[2], start=1)
        ]
        self.write(
            "document_template_lines",
            {
                "id": self.ids.take("document_template_lines", len(lines)),
                "template_id": np.array([r[0] for r in lines]),
                "position": np.array([r[1] for r in lines]),
                "product_id": catalogue.product_ids[np.array([r[2] for r in lines])],
                "quantity": np.array([float(r[3]) for r in lines]),
                "created_at": self.before_start(len(lines), 60, 61),
            },
        )
