{{ config(meta={'table': 'payments', 'rule': 'payments on an order never exceed its total', 'key': 'order_id'}) }}
{#- Gate rule: Σ live payments of an order <= the order's total (crm_app.services.orders.record_payment). -#}
with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

payments as (

    select * from {{ ref('stg_crm__payments') }}

),

paid as (

    select
        order_id,
        sum(amount) as paid_amount

    from payments
    group by order_id

)

select
    paid.order_id as failing_key,
    orders.order_number,
    orders.total_amount,
    paid.paid_amount

from paid
-- payments of a deleted order leave the warehouse with it
inner join orders
    on paid.order_id = orders.order_id

where paid.paid_amount > orders.total_amount
