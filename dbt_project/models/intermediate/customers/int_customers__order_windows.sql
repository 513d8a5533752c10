{#- One pass over the customer's orders and occasions: lifetime, trailing-12-month, prior-12-month and the
    two care periods (the last var value_change_period_days and the period before), plus collections. -#}
with

orders as (

    select * from {{ ref('fct_orders') }}

),

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

order_totals as (

    select
        account_id,
        min(case when order_kind = 'sale' and is_revenue then order_date end) as first_order_date,
        max(case when order_kind = 'sale' and is_revenue then order_date end) as last_order_date,
        sum(case when order_kind = 'sale' and is_revenue then 1 else 0 end) as sale_order_count,
        sum(case when order_kind = 'return' and is_revenue then 1 else 0 end) as return_order_count,
        sum(case when order_kind = 'return' then -net_revenue else 0 end) as returned_amount,
        sum(net_revenue) as lifetime_net_revenue,
        sum(gross_margin) as lifetime_gross_margin,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then net_revenue else 0 end) as t12m_net_revenue,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then gross_margin else 0 end) as t12m_gross_margin,
        sum(case when order_date > {{ as_of_date_plus(-365) }} and order_kind = 'sale' and is_revenue then 1 else 0 end)
            as t12m_sale_order_count,
        sum(case when order_date > {{ as_of_date_plus(-730) }} and order_date <= {{ as_of_date_plus(-365) }}
            then net_revenue else 0 end) as prior_12m_net_revenue,
        sum(case when order_date > {{ as_of_date_plus(-730) }} and order_date <= {{ as_of_date_plus(-365) }}
            then gross_margin else 0 end) as prior_12m_gross_margin,
        sum(case when order_date > {{ as_of_date_plus(- var('value_change_period_days') | int) }}
            then net_revenue else 0 end) as last_period_net_revenue,
        sum(case when order_date > {{ as_of_date_plus(-2 * var('value_change_period_days') | int) }}
            and order_date <= {{ as_of_date_plus(- var('value_change_period_days') | int) }}
            then net_revenue else 0 end) as previous_period_net_revenue,
        sum(unpaid_amount) as unpaid_amount,
        sum(overdue_amount) as overdue_amount,
        min(oldest_overdue_due_date) as oldest_overdue_due_date

    from orders
    group by account_id

),

gaps as (

    select
        account_id,
        occasion_date,
        {{ dbt.datediff('lag(occasion_date) over (partition by account_id order by occasion_date)', 'occasion_date', 'day') }}
            as days_since_previous

    from occasions

),

occasion_totals as (

    select
        account_id,
        count(*) as occasion_count,
        min(occasion_date) as first_occasion_date,
        max(occasion_date) as last_occasion_date,
        sum(case when occasion_date > {{ as_of_date_plus(-365) }} then 1 else 0 end) as t12m_occasion_count,
        count(distinct case
            when occasion_date > {{ as_of_date_plus(-365) }} then {{ dbt.date_trunc('month', 'occasion_date') }}
        end) as t12m_active_months,
        sum(case when occasion_date > {{ as_of_date_plus(-2 * var('value_change_period_days') | int) }}
            and occasion_date <= {{ as_of_date_plus(- var('value_change_period_days') | int) }}
            then 1 else 0 end) as previous_period_occasion_count,
        avg(days_since_previous) as avg_days_between_occasions,
        stddev_samp(days_since_previous) as stddev_days_between_occasions

    from gaps
    group by account_id

),

final as (

    select
        order_totals.account_id,
        order_totals.first_order_date,
        order_totals.last_order_date,
        order_totals.sale_order_count,
        order_totals.return_order_count,
        order_totals.returned_amount,
        order_totals.lifetime_net_revenue,
        order_totals.lifetime_gross_margin,
        order_totals.t12m_net_revenue,
        order_totals.t12m_gross_margin,
        order_totals.t12m_sale_order_count,
        order_totals.prior_12m_net_revenue,
        order_totals.prior_12m_gross_margin,
        order_totals.last_period_net_revenue,
        order_totals.previous_period_net_revenue,
        order_totals.unpaid_amount,
        order_totals.overdue_amount,
        order_totals.oldest_overdue_due_date,
        coalesce(occasion_totals.occasion_count, 0) as occasion_count,
        occasion_totals.first_occasion_date,
        occasion_totals.last_occasion_date,
        coalesce(occasion_totals.t12m_occasion_count, 0) as t12m_occasion_count,
        coalesce(occasion_totals.t12m_active_months, 0) as t12m_active_months,
        coalesce(occasion_totals.previous_period_occasion_count, 0) as previous_period_occasion_count,
        occasion_totals.avg_days_between_occasions,
        occasion_totals.stddev_days_between_occasions

    from order_totals
    left join occasion_totals
        on order_totals.account_id = occasion_totals.account_id

)

select * from final
