"""Tables the database derives from the operational ones and keeps current itself (by triggers).

They are not the app's to write, carry no id or timestamps, and stay out of ``Base.metadata``: the raw layer of
the warehouse copies operational tables only, and rebuilds any total from them. The migrations create them and
their triggers; ``DERIVED_METADATA`` describes them for the schema's checks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Integer, MetaData, Table

from crm_app.models.base import NAMING_CONVENTION

DERIVED_METADATA = MetaData(naming_convention=NAMING_CONVENTION)

# What stands for "none" in a key column (a key column cannot be NULL): no department; no closing date (open deal).
NO_DEPARTMENT = 0
NOT_CLOSED = dt.date(1, 1, 1)

# The live deals' count and amount (in cents, exact on every backend) per stage, closing day and the four
# departments a manager may see a deal through: its owner's, its own, its account owner's and its account's
# (crm_app.services.visibility). The pipeline board sums these (~1,300 rows in the demo data for 100k customers)
# instead of the ~15,000 deals on it (crm_app.web.pages.sales; migration 0010).
opportunity_board_totals = Table(
    "opportunity_board_totals",
    DERIVED_METADATA,
    Column("stage_id", Integer, primary_key=True),
    Column("closed_on", Date, primary_key=True),
    Column("owner_department_id", Integer, primary_key=True),
    Column("department_id", Integer, primary_key=True),
    Column("account_owner_department_id", Integer, primary_key=True),
    Column("account_department_id", Integer, primary_key=True),
    Column("deals", Integer, nullable=False),
    Column("cents", BigInteger, nullable=False),
)
