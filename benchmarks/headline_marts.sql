-- The headline marts written by hand in one DuckDB script, on the raw layer of a warehouse file:
-- customer revenue and margin (lifetime, trailing 12 months), RFM scores and segments, funnel counts.
-- benchmarks/bench_refresh.py times it against the dbt build and compares its totals with the marts.
-- Definitions follow DESIGN.md §4 and dbt_project/DECISIONLOG.md: booked orders only (confirmed, shipped,
-- completed), returns negative and belonging to the purchase occasion of the sale they return, cost at
-- the time of sale (today's product cost when a line has none), nothing dated after the as-of date.
-- Needs: SET VARIABLE as_of_date = DATE 'YYYY-MM-DD';

create or replace temp table h_orders as
with orders as (
    select
        o.id,
        o.account_id,
        o.kind,
        o.order_date,
        o.return_of_id,
        o.status in ('confirmed', 'shipped', 'completed') as booked
    from raw.orders as o
    inner join raw.accounts as a on a.id = o.account_id and a.deleted_at is null
    where o.deleted_at is null and o.order_date <= getvariable('as_of_date')
),
scoped as (
    select
        orders.*,
        coalesce(sales.order_date, orders.order_date) as occasion_date,
        orders.booked and coalesce(sales.booked, true) as is_revenue,
        case when orders.kind = 'return' then -1 else 1 end as sign
    from orders
    left join orders as sales on sales.id = orders.return_of_id
),
lines as (
    select
        l.order_id,
        sum(l.line_total) as revenue,
        sum(l.quantity * coalesce(l.unit_cost, p.unit_cost, 0)) as cost
    from raw.order_lines as l
    left join raw.products as p on p.id = l.product_id
    group by l.order_id
)
select
    scoped.id as order_id,
    scoped.account_id,
    scoped.kind,
    scoped.order_date,
    scoped.occasion_date,
    coalesce(lines.revenue, 0) * scoped.sign as net_revenue,
    (coalesce(lines.revenue, 0) - coalesce(lines.cost, 0)) * scoped.sign as gross_margin
from scoped
left join lines on lines.order_id = scoped.id
where scoped.is_revenue;

create or replace temp table h_customer_revenue as
select
    a.id as account_id,
    coalesce(sum(o.net_revenue), 0) as lifetime_net_revenue,
    coalesce(sum(o.gross_margin), 0) as lifetime_gross_margin,
    coalesce(sum(o.net_revenue) filter (where o.order_date > getvariable('as_of_date') - 365), 0) as t12m_net_revenue,
    coalesce(sum(o.gross_margin) filter (where o.order_date > getvariable('as_of_date') - 365), 0) as t12m_gross_margin
from raw.accounts as a
left join h_orders as o on o.account_id = a.id
where a.kind = 'customer' and a.deleted_at is null
group by a.id;

create or replace temp table h_rfm as
with occasions as (
    select account_id, occasion_date
    from h_orders
    group by account_id, occasion_date
    having sum(case when kind = 'sale' then 1 else 0 end) > 0
),
measured as (
    select
        account_id,
        date_diff('day', max(occasion_date), getvariable('as_of_date')) as recency_days,
        count(*) as frequency
    from occasions
    group by account_id
),
scored as (
    select
        measured.account_id,
        measured.recency_days,
        measured.frequency,
        revenue.lifetime_net_revenue as monetary,
        ntile(5) over (order by measured.recency_days desc) as r_score,
        ntile(5) over (order by measured.frequency) as f_score,
        ntile(5) over (order by revenue.lifetime_net_revenue) as m_score
    from measured
    inner join h_customer_revenue as revenue on revenue.account_id = measured.account_id
)
select
    *,
    case
        when r_score >= 4 and f_score >= 4 then 'Champions'
        when r_score >= 3 and f_score >= 4 then 'Loyal'
        when r_score >= 4 and f_score >= 2 then 'Potential Loyalists'
        when r_score = 5 and f_score = 1 then 'New'
        when r_score = 4 and f_score = 1 then 'Promising'
        when r_score = 3 and f_score = 3 then 'Need Attention'
        when r_score = 3 and f_score <= 2 then 'About to Sleep'
        when r_score <= 2 and f_score = 5 then 'Can''t Lose Them'
        when r_score <= 2 and f_score >= 3 then 'At Risk'
        else 'Hibernating'
    end as segment
from scored;

create or replace temp table h_funnel as
select
    s.id as stage_id,
    s.name as stage_name,
    count(o.id) as current_count,
    coalesce(sum(o.amount), 0) as current_amount,
    coalesce(sum(o.amount * s.probability), 0) as weighted_amount
from raw.pipeline_stages as s
left join raw.opportunities as o
    on o.stage_id = s.id
    and o.deleted_at is null
    and cast(o.created_at as date) <= getvariable('as_of_date')
group by s.id, s.name;
