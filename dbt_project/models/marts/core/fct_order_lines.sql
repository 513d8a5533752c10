with

lines as (

    select * from {{ ref('stg_crm__order_lines') }}

),

orders as (

    select * from {{ ref('int_orders__scoped') }}

),

products as (

    select * from {{ ref('stg_crm__products') }}

),

category_tree as (

    select * from {{ ref('int_product_categories__tree') }}

),

costed as (

    select
        lines.order_line_id,
        lines.order_id,
        orders.order_kind,
        orders.order_status,
        orders.order_date,
        orders.order_month,
        orders.occasion_date,
        orders.account_id,
        orders.owner_id,
        orders.department_id,
        orders.region,
        orders.channel,
        lines.product_id,
        products.category_id,
        category_tree.root_category_id,
        lines.return_of_order_line_id,
        lines.quantity,
        lines.unit_price,
        lines.discount_pct,
        lines.discount_amount,
        lines.line_total,
        -- lines without a recorded cost (free-text lines, old imports) fall back to today's product cost
        coalesce(lines.unit_cost, products.unit_cost, 0) as unit_cost,
        lines.unit_cost is null as is_cost_estimated,
        orders.is_revenue,
        orders.amount_sign

    from lines
    inner join orders
        on lines.order_id = orders.order_id
    left join products
        on lines.product_id = products.product_id
    left join category_tree
        on products.category_id = category_tree.category_id

),

final as (

    select
        order_line_id,
        order_id,
        order_kind,
        order_status,
        order_date,
        order_month,
        occasion_date,
        account_id,
        owner_id,
        department_id,
        region,
        channel,
        product_id,
        category_id,
        root_category_id,
        return_of_order_line_id,
        quantity,
        unit_price,
        discount_pct,
        discount_amount,
        line_total,
        unit_cost,
        is_cost_estimated,
        is_revenue,
        -- signed figures: returns count negative, orders that are not booked count zero
        case when is_revenue then amount_sign * quantity else 0 end as net_quantity,
        case when is_revenue then amount_sign * line_total else 0 end as net_revenue,
        case when is_revenue then amount_sign * round(quantity * unit_cost, 2) else 0 end as cost_amount,
        case
            when is_revenue then amount_sign * (line_total - round(quantity * unit_cost, 2))
            else 0
        end as gross_margin

    from costed

)

select * from final
