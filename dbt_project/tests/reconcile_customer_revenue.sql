{{ config(meta={'table': 'customer_value', 'rule': 'per-customer lifetime net revenue sums to the total net revenue of fct_orders'}) }}
{#- Reconciliation: Σ customer_value.lifetime_net_revenue = Σ fct_orders.net_revenue (and the lines agree). -#}
with

customer_total as (

    select sum(lifetime_net_revenue) as net_revenue from {{ ref('customer_value') }}

),

order_total as (

    select sum(net_revenue) as net_revenue from {{ ref('fct_orders') }}

),

line_total as (

    select sum(net_revenue) as net_revenue from {{ ref('fct_order_lines') }}

)

select
    customer_total.net_revenue as customer_net_revenue,
    order_total.net_revenue as order_net_revenue,
    line_total.net_revenue as line_net_revenue

from customer_total
cross join order_total
cross join line_total

where coalesce(customer_total.net_revenue, 0) <> coalesce(order_total.net_revenue, 0)
    or coalesce(order_total.net_revenue, 0) <> coalesce(line_total.net_revenue, 0)
