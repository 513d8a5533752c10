{#- Prior-period comparison ending on the as-of date: month, quarter and year to date against the same span
    one month, quarter and year earlier, and the last 30, 90 and 365 days against the span before. Grain:
    period x side (current / prior) figures side by side, by department, region and owner (the order's, the deal's;
    the customer's for new customers and cases). -#}
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue

),

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where opportunity_status = 'won'

),

cases as (

    select * from {{ ref('fct_cases') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

{%- set d = as_of_date() %}

periods as (

    {%- set spans = [
        ('month_to_date', 1, dbt.date_trunc('month', d), dbt.dateadd('month', -1, d)),
        ('quarter_to_date', 2, dbt.date_trunc('quarter', d), dbt.dateadd('month', -3, d)),
        ('year_to_date', 3, dbt.date_trunc('year', d), dbt.dateadd('year', -1, d)),
    ] %}
    {%- for name, sort, start, prior_end in spans %}
    select
        '{{ name }}' as period,
        {{ sort }} as period_sort,
        cast({{ start }} as date) as current_start,
        {{ d }} as current_end,
        cast({{ dbt.date_trunc(name.split('_')[0], prior_end) }} as date) as prior_start,
        cast({{ prior_end }} as date) as prior_end
    union all
    {%- endfor %}
    {%- for days in [30, 90, 365] %}
    select
        'last_{{ days }}_days' as period,
        {{ 3 + loop.index }} as period_sort,
        {{ as_of_date_plus(1 - days) }} as current_start,
        {{ d }} as current_end,
        {{ as_of_date_plus(1 - 2 * days) }} as prior_start,
        {{ as_of_date_plus(- days) }} as prior_end
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

sides as (

    select period, period_sort, 'current' as side, current_start as start_date, current_end as end_date from periods
    union all
    select period, period_sort, 'prior' as side, prior_start as start_date, prior_end as end_date from periods

),

order_figures as (

    select
        sides.period,
        sides.side,
        orders.department_id,
        orders.region,
        orders.owner_id,
        sum(orders.net_revenue) as net_revenue,
        sum(orders.gross_margin) as gross_margin,
        count(case when orders.order_kind = 'sale' then 1 end) as sale_orders,
        count(distinct case when orders.order_kind = 'sale' then orders.account_id end) as active_customers

    from sides
    inner join orders
        on orders.order_date between sides.start_date and sides.end_date
    group by 1, 2, 3, 4, 5

),

new_customer_figures as (

    select
        sides.period,
        sides.side,
        customers.department_id,
        customers.region,
        customers.owner_id,
        count(*) as new_customers

    from sides
    inner join occasions
        on occasions.occasion_number = 1
        and occasions.occasion_date between sides.start_date and sides.end_date
    inner join customers
        on occasions.account_id = customers.account_id
    group by 1, 2, 3, 4, 5

),

deal_figures as (

    select
        sides.period,
        sides.side,
        opportunities.department_id,
        opportunities.region,
        opportunities.owner_id,
        count(*) as won_deals,
        sum(opportunities.amount) as won_amount

    from sides
    inner join opportunities
        on opportunities.closed_date between sides.start_date and sides.end_date
    group by 1, 2, 3, 4, 5

),

case_figures as (

    select
        sides.period,
        sides.side,
        customers.department_id,
        cases.region,
        customers.owner_id,
        count(*) as cases_opened,
        count(case when cases.is_complaint then 1 end) as complaints_opened

    from sides
    inner join cases
        on cases.opened_date between sides.start_date and sides.end_date
    left join customers
        on cases.account_id = customers.account_id
    group by 1, 2, 3, 4, 5

),

keys as (

    select period, department_id, region, owner_id from order_figures
    union
    select period, department_id, region, owner_id from new_customer_figures
    union
    select period, department_id, region, owner_id from deal_figures
    union
    select period, department_id, region, owner_id from case_figures

),

{%- set measures = [
    ('net_revenue', 'order_figures'), ('gross_margin', 'order_figures'), ('sale_orders', 'order_figures'),
    ('active_customers', 'order_figures'), ('new_customers', 'new_customer_figures'),
    ('won_deals', 'deal_figures'), ('won_amount', 'deal_figures'),
    ('cases_opened', 'case_figures'), ('complaints_opened', 'case_figures'),
] %}

final as (

    select
        keys.period,
        periods.period_sort,
        periods.current_start,
        periods.current_end,
        periods.prior_start,
        periods.prior_end,
        keys.department_id,
        keys.region,
        keys.owner_id,
        {%- for measure, source in measures %}
        coalesce(current_{{ source }}.{{ measure }}, 0) as {{ measure }},
        coalesce(prior_{{ source }}.{{ measure }}, 0) as prior_{{ measure }},
        {%- endfor %}
        -- change against the prior period (null when the prior period had none)
        case
            when coalesce(prior_order_figures.net_revenue, 0) <> 0
                then (coalesce(current_order_figures.net_revenue, 0) - prior_order_figures.net_revenue)
                    / abs(prior_order_figures.net_revenue)
        end as net_revenue_change

    from keys
    inner join periods
        on keys.period = periods.period
    {%- for source in ['order_figures', 'new_customer_figures', 'deal_figures', 'case_figures'] %}
    {%- for side in ['current', 'prior'] %}
    left join {{ source }} as {{ side }}_{{ source }}
        on keys.period = {{ side }}_{{ source }}.period
        and {{ side }}_{{ source }}.side = '{{ side }}'
        and keys.department_id is not distinct from {{ side }}_{{ source }}.department_id
        and keys.region is not distinct from {{ side }}_{{ source }}.region
        and keys.owner_id is not distinct from {{ side }}_{{ source }}.owner_id
    {%- endfor %}
    {%- endfor %}

)

select * from final
