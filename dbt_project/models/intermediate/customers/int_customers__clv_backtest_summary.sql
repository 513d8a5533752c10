{#- The customer value back-test's data: each customer's purchase history as it was known at the end of the
    calibration period (as_of_date - var clv_backtest_holdout_days), in the model's input shape, and what the
    customer then bought in the hold-out period up to as_of_date. Customers whose first purchase falls in the
    hold-out are not here: the model fitted at the calibration end knew nothing of them. -#}
{%- set holdout_days = clv_backtest_holdout_days() | int %}
{%- set calibration_end = as_of_date_plus(- holdout_days) %}
with

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

-- returns booked after the calibration end of purchases made before it: at the calibration end these purchases
-- were still worth their full value (an occasion's net revenue today is net of every return by the as-of date)
later_returns as (

    select
        account_id,
        occasion_date,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin

    from orders
    where is_revenue
        and order_kind = 'return'
        and order_date > {{ calibration_end }}
        and occasion_date <= {{ calibration_end }}
    group by account_id, occasion_date

),

calibration_occasions as (

    select
        occasions.account_id,
        occasions.occasion_date,
        occasions.occasion_number,
        occasions.net_revenue - coalesce(later_returns.net_revenue, 0) as net_revenue,
        occasions.gross_margin - coalesce(later_returns.gross_margin, 0) as gross_margin

    from occasions
    left join later_returns
        on occasions.account_id = later_returns.account_id
        and occasions.occasion_date = later_returns.occasion_date
    where occasions.occasion_date <= {{ calibration_end }}

),

calibration as (

    {{ clv_summary('calibration_occasions', calibration_end) }}

),

holdout as (

    select
        account_id,
        count(*) as occasion_count,
        sum(net_revenue) as net_revenue

    from occasions
    where occasion_date > {{ calibration_end }}
    group by account_id

),

final as (

    select
        calibration.account_id,
        {{ calibration_end }} as calibration_end_date,
        {{ as_of_date() }} as holdout_end_date,
        calibration.frequency,
        calibration.recency,
        calibration.age,
        calibration.monetary_value,
        calibration.margin_rate,
        coalesce(holdout.occasion_count, 0) as actual_purchases,
        coalesce(holdout.net_revenue, 0) as actual_net_revenue

    from calibration
    left join holdout
        on calibration.account_id = holdout.account_id

)

select * from final
