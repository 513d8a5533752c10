{{ config(meta={'table': 'clv_backtest', 'rule': 'the deciles and the months of the back-test add up to its total, and the total to its customers'}) }}
{#- Reconciliation: per breakdown, Σ predicted and Σ actual purchases = the 'total' row = Σ clv_backtest_customers. -#}
with

backtest as (

    select * from {{ ref('clv_backtest') }}

),

customers as (

    select
        sum(predicted_purchases) as predicted_purchases,
        sum(actual_purchases) as actual_purchases

    from {{ ref('clv_backtest_customers') }}

),

totals as (

    select
        breakdown,
        sum(predicted_purchases) as predicted_purchases,
        sum(actual_purchases) as actual_purchases

    from backtest
    group by breakdown

)

select
    totals.breakdown,
    totals.predicted_purchases,
    totals.actual_purchases,
    customers.predicted_purchases as customer_predicted_purchases,
    customers.actual_purchases as customer_actual_purchases

from totals
cross join customers

where totals.actual_purchases <> customers.actual_purchases
    or abs(totals.predicted_purchases - customers.predicted_purchases) > 1e-6 * greatest(1, customers.predicted_purchases)
