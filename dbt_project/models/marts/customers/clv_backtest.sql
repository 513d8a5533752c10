{#- The customer value back-test aggregated: predicted against actual purchase occasions and net revenue in the
    hold-out period, per decile of the prediction, per calendar month of the hold-out, and in total, with the
    status of the calibration fit. -#}
{%- set holdout_days = clv_backtest_holdout_days() | int %}
{%- set calibration_end = as_of_date_plus(- holdout_days) %}
{%- set holdout_start = as_of_date_plus(1 - holdout_days) %}
with

customers as (

    select * from {{ ref('clv_backtest_customers') }}

),

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}
    where occasion_date > {{ calibration_end }}

),

backtest as (

    select * from {{ ref('int_customers__clv_backtest') }}

),

predicted_months as (

    select
        cast(period_month as date) as period_month,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        predicted_purchases,
        predicted_net_revenue

    from backtest
    where record_type = 'month'

),

fit as (

    select
        max(case when model = 'bg_nbd' then status end) as bg_nbd_status,
        max(case when model = 'gamma_gamma' then status end) as gamma_gamma_status,
        cast(max(case when model = 'bg_nbd' then customers_fitted end) as {{ dbt.type_int() }}) as customers_fitted

    from backtest
    where record_type = 'parameter'

),

{#- the customers' figures over the whole hold-out (the decile and total rows) -#}
{%- set whole_holdout %}
        {{ holdout_start }} as period_start,
        {{ as_of_date() }} as period_end,
        count(*) as customers,
        count(case when actual_purchases > 0 then 1 end) as actual_buyers,
        sum(predicted_purchases) as predicted_purchases,
        sum(actual_purchases) as actual_purchases,
        sum(predicted_net_revenue) as predicted_net_revenue,
        sum(actual_net_revenue) as actual_net_revenue
{%- endset %}

-- hold-out purchases of the customers the model knew at the calibration end, by month
actual_months as (

    select
        cast({{ dbt.date_trunc('month', 'occasions.occasion_date') }} as date) as period_month,
        count(distinct occasions.account_id) as actual_buyers,
        count(*) as actual_purchases,
        sum(occasions.net_revenue) as actual_net_revenue

    from occasions
    inner join customers
        on occasions.account_id = customers.account_id
    group by 1

),

by_decile as (

    select
        'decile' as breakdown,
        predicted_purchases_decile as bucket,
        cast(null as date) as period_month,
        {{ whole_holdout }}

    from customers
    group by predicted_purchases_decile

),

by_month as (

    select
        'month' as breakdown,
        cast(null as {{ dbt.type_int() }}) as bucket,
        predicted_months.period_month,
        predicted_months.period_start,
        predicted_months.period_end,
        (select count(*) from customers) as customers,
        coalesce(actual_months.actual_buyers, 0) as actual_buyers,
        predicted_months.predicted_purchases,
        coalesce(actual_months.actual_purchases, 0) as actual_purchases,
        predicted_months.predicted_net_revenue,
        coalesce(actual_months.actual_net_revenue, 0) as actual_net_revenue

    from predicted_months
    left join actual_months
        on predicted_months.period_month = actual_months.period_month

),

total as (

    select
        'total' as breakdown,
        cast(null as {{ dbt.type_int() }}) as bucket,
        cast(null as date) as period_month,
        {{ whole_holdout }}

    from customers
    -- no row without customers: there is nothing to compare
    having count(*) > 0

),

combined as (

    select * from by_decile
    union all
    select * from by_month
    union all
    select * from total

),

final as (

    select
        combined.breakdown,
        combined.bucket,
        combined.period_month,
        combined.period_start,
        combined.period_end,
        combined.customers,
        combined.actual_buyers,
        cast(combined.predicted_purchases as {{ type_double() }}) as predicted_purchases,
        cast(combined.actual_purchases as {{ dbt.type_int() }}) as actual_purchases,
        cast(combined.predicted_net_revenue as {{ type_double() }}) as predicted_net_revenue,
        combined.actual_net_revenue,
        {{ calibration_end }} as calibration_end_date,
        {{ as_of_date() }} as holdout_end_date,
        {{ holdout_days }} as holdout_days,
        fit.bg_nbd_status,
        fit.gamma_gamma_status,
        fit.customers_fitted

    from combined
    cross join fit

)

select * from final
