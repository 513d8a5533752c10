"""A tiny dbt project with the shape the pipeline relies on (profile, source, marts the gate reads).

It lets the orchestration tests (dbt failures, gate, publish) run in seconds and independently of the
real dbt_project/, which has its own end-to-end tests in test_refresh.py.
"""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "dbt_project.yml": """
name: tiny
version: "1.0.0"
config-version: 2
profile: crm
model-paths: ["models"]
macro-paths: ["macros"]
test-paths: ["tests"]
flags:
  send_anonymous_usage_stats: false
vars:
  horizon_days: 365
models:
  tiny:
    +materialized: table
    marts:
      +schema: marts
""",
    "profiles.yml": """
crm:
  target: build
  outputs:
    build:
      type: duckdb
      path: "{{ env_var('CRM_DBT_DUCKDB_PATH') }}"
      threads: 1
""",
    "macros/generate_schema_name.sql": """
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
""",
    "models/sources.yml": """
version: 2
sources:
  - name: crm
    schema: raw
    tables:
      - name: accounts
      - name: orders
      - name: order_lines
      - name: products
      - name: opportunities
      - name: pipeline_stages
""",
    "models/marts/fct_orders.sql": """
select
    o.id as order_id,
    o.account_id,
    o.order_date,
    o.status in ('confirmed', 'shipped', 'completed') as is_revenue,
    coalesce(sum(l.line_total), 0) * case when o.kind = 'return' then -1 else 1 end as net_revenue
from {{ source('crm', 'orders') }} as o
left join {{ source('crm', 'order_lines') }} as l on l.order_id = o.id
where o.deleted_at is null and o.order_date <= cast('{{ env_var("CRM_AS_OF_DATE") }}' as date)
group by o.id, o.account_id, o.order_date, o.status, o.kind
""",
    "models/marts/fct_order_lines.sql": """
select l.id as order_line_id, l.order_id, l.product_id, l.quantity, l.line_total
from {{ source('crm', 'order_lines') }} as l
""",
    "models/marts/dim_products.sql": """
select id as product_id, sku from {{ source('crm', 'products') }}
""",
    "models/marts/dim_customers.sql": """
select id as account_id, name from {{ source('crm', 'accounts') }} where kind = 'customer' and deleted_at is null
""",
    "models/marts/customer_value.sql": """
select
    c.account_id,
    coalesce(sum(o.net_revenue) filter (where o.is_revenue), 0) as lifetime_net_revenue,
    0.5 as p_alive,
    cast({{ var('horizon_days') }} as double) / 365 as expected_purchases
from {{ ref('dim_customers') }} as c
left join {{ ref('fct_orders') }} as o on o.account_id = c.account_id
group by c.account_id
""",
    "models/marts/customer_rfm.sql": """
select account_id, 3 as r_score, 3 as f_score, 3 as m_score from {{ ref('dim_customers') }}
""",
    "models/marts/fct_opportunities.sql": """
select id as opportunity_id, stage_id, amount
from {{ source('crm', 'opportunities') }}
where deleted_at is null
""",
    "models/marts/sales_funnel.sql": """
select s.id as stage_id, s.name as stage_name, count(o.opportunity_id) as current_count
from {{ source('crm', 'pipeline_stages') }} as s
left join {{ ref('fct_opportunities') }} as o on o.stage_id = s.id
group by s.id, s.name
""",
    "models/marts/schema.yml": """
version: 2
models:
  - name: fct_orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
  - name: fct_order_lines
    columns:
      - name: order_line_id
        data_tests: [unique, not_null]
      - name: product_id
        data_tests:
          - relationships:
              arguments:
                to: ref('dim_products')
                field: product_id
  - name: dim_customers
    columns:
      - name: account_id
        data_tests: [unique, not_null]
  - name: dim_products
    columns:
      - name: product_id
        data_tests: [unique, not_null]
unit_tests:
  - name: customer_value_sums_revenue_orders_only
    model: customer_value
    given:
      - input: ref('dim_customers')
        rows:
          - {account_id: 1, name: A}
      - input: ref('fct_orders')
        rows:
          - {order_id: 1, account_id: 1, is_revenue: true, net_revenue: 10}
          - {order_id: 2, account_id: 1, is_revenue: false, net_revenue: 99}
    expect:
      rows:
        - {account_id: 1, lifetime_net_revenue: 10}
""",
}


def write_tiny_project(directory: Path, overrides: dict[str, str] | None = None) -> Path:
    """Write the project (with ``overrides`` replacing or adding files) and return its directory."""
    for name, text in {**FILES, **(overrides or {})}.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return directory
