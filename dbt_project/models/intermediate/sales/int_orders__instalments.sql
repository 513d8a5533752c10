{#- What each booked sale not yet fully paid still has to collect, instalment by instalment, as of the
    as-of date. Payments settle the earliest instalments first. -#}
with

booked_sales as (

    select * from {{ ref('int_orders__scoped') }}
    where order_kind = 'sale' and is_revenue

),

plans as (

    select * from {{ ref('stg_crm__payment_plans') }}
    -- a plan is an expectation: only the ones made by the as-of date count
    where plan_kind = 'collection'
        and created_at < {{ as_of_cutoff() }}

),

payments as (

    select * from {{ ref('stg_crm__payments') }}
    where paid_on <= {{ as_of_date() }}

),

paid_per_order as (

    select
        order_id,
        sum(amount) as paid_amount

    from payments
    group by order_id

),

-- most sales are paid in full: only the others have anything left to allocate
orders as (

    select booked_sales.*
    from booked_sales
    left join paid_per_order
        on booked_sales.order_id = paid_per_order.order_id
    where booked_sales.total_amount > coalesce(paid_per_order.paid_amount, 0)

),

planned_instalments as (

    select
        'plan-' || cast(plans.payment_plan_id as {{ dbt.type_string() }}) as instalment_key,
        plans.order_id,
        plans.payment_plan_id,
        plans.due_date,
        plans.amount

    from plans
    inner join orders
        on plans.order_id = orders.order_id

),

planned_per_order as (

    select
        order_id,
        sum(amount) as planned_amount

    from planned_instalments
    group by order_id

),

-- what no plan covers is due on the default payment terms
unplanned_instalments as (

    select
        'order-' || cast(orders.order_id as {{ dbt.type_string() }}) as instalment_key,
        orders.order_id,
        cast(null as {{ dbt.type_int() }}) as payment_plan_id,
        cast({{ dbt.dateadd('day', var('payment_terms_days'), 'orders.order_date') }} as date) as due_date,
        orders.total_amount - coalesce(planned_per_order.planned_amount, 0) as amount

    from orders
    left join planned_per_order
        on orders.order_id = planned_per_order.order_id

    where orders.total_amount - coalesce(planned_per_order.planned_amount, 0) > 0

),

instalments as (

    select * from planned_instalments
    union all
    select * from unplanned_instalments

),

allocated as (

    select
        instalments.*,
        sum(instalments.amount) over (
            partition by instalments.order_id
            order by instalments.due_date, instalments.instalment_key
            rows between unbounded preceding and current row
        ) as cumulative_amount,
        coalesce(paid_per_order.paid_amount, 0) as order_paid_amount

    from instalments
    left join paid_per_order
        on instalments.order_id = paid_per_order.order_id

),

final as (

    select
        allocated.instalment_key,
        allocated.order_id,
        allocated.payment_plan_id,
        orders.account_id,
        orders.owner_id,
        orders.department_id,
        orders.region,
        allocated.due_date,
        cast({{ dbt.date_trunc('month', 'allocated.due_date') }} as date) as due_month,
        allocated.amount,
        greatest(0, least(allocated.amount, allocated.cumulative_amount - allocated.order_paid_amount)) as unpaid_amount,
        allocated.due_date < {{ as_of_date() }}
            and allocated.cumulative_amount - allocated.order_paid_amount > 0 as is_overdue

    from allocated
    inner join orders
        on allocated.order_id = orders.order_id

)

select * from final
