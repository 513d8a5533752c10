{{ config(meta={'table': 'orders', 'rule': 'an order total equals the sum of its line totals', 'key': 'order_id'}) }}
{#- Gate rule: orders.total_amount = Σ order_lines.line_total for every live order. -#}
with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

lines as (

    select * from {{ ref('stg_crm__order_lines') }}

),

line_totals as (

    select
        order_id,
        sum(line_total) as lines_total

    from lines
    group by order_id

)

select
    orders.order_id as failing_key,
    orders.order_number,
    orders.total_amount,
    coalesce(line_totals.lines_total, 0) as lines_total

from orders
left join line_totals
    on orders.order_id = line_totals.order_id

where orders.total_amount <> coalesce(line_totals.lines_total, 0)
