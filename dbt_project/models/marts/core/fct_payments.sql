with

payments as (

    select * from {{ ref('stg_crm__payments') }}

),

orders as (

    select * from {{ ref('int_orders__scoped') }}

),

final as (

    select
        payments.payment_id,
        payments.order_id,
        orders.order_kind,
        orders.account_id,
        orders.owner_id,
        orders.department_id,
        orders.region,
        payments.payment_plan_id,
        payments.paid_on,
        cast({{ dbt.date_trunc('month', 'payments.paid_on') }} as date) as paid_month,
        payments.amount,
        -- refunds of returns count negative in collections
        orders.amount_sign * payments.amount as collected_amount,
        payments.method,
        payments.recorded_by_id

    from payments
    inner join orders
        on payments.order_id = orders.order_id

    where payments.paid_on <= {{ as_of_date() }}

)

select * from final
