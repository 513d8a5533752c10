with

orders as (

    select * from {{ ref('int_orders__scoped') }}

),

lines as (

    select * from {{ ref('fct_order_lines') }}

),

payments as (

    select * from {{ ref('fct_payments') }}

),

instalments as (

    select * from {{ ref('int_orders__instalments') }}

),

line_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as quantity,
        sum(net_revenue) as net_revenue,
        sum(cost_amount) as cost_amount,
        sum(gross_margin) as gross_margin

    from lines
    group by order_id

),

paid as (

    select
        order_id,
        sum(amount) as paid_amount,
        max(paid_on) as last_paid_on

    from payments
    group by order_id

),

due as (

    select
        order_id,
        sum(unpaid_amount) as unpaid_amount,
        sum(case when is_overdue then unpaid_amount else 0 end) as overdue_amount,
        min(case when is_overdue then due_date end) as oldest_overdue_due_date

    from instalments
    group by order_id

),

final as (

    select
        orders.order_id,
        orders.order_number,
        orders.order_kind,
        orders.return_of_order_id,
        orders.account_id,
        orders.owner_id,
        orders.department_id,
        orders.region,
        orders.channel,
        orders.order_status,
        orders.order_date,
        orders.order_month,
        orders.occasion_date,
        orders.opportunity_id,
        orders.quote_id,
        orders.is_revenue,
        orders.total_amount,
        coalesce(line_totals.line_count, 0) as line_count,
        coalesce(line_totals.quantity, 0) as quantity,
        coalesce(line_totals.net_revenue, 0) as net_revenue,
        coalesce(line_totals.cost_amount, 0) as cost_amount,
        coalesce(line_totals.gross_margin, 0) as gross_margin,
        coalesce(paid.paid_amount, 0) as paid_amount,
        paid.last_paid_on,
        coalesce(due.unpaid_amount, 0) as unpaid_amount,
        coalesce(due.overdue_amount, 0) as overdue_amount,
        due.oldest_overdue_due_date

    from orders
    left join line_totals
        on orders.order_id = line_totals.order_id
    left join paid
        on orders.order_id = paid.order_id
    left join due
        on orders.order_id = due.order_id

)

select * from final
