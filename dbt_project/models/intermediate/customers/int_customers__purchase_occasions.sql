{#- Purchase occasions: a calendar day on which a customer has at least one booked sale; same-day orders
    merge. Returns reduce the occasion of the sale they return (not the day the goods came back). -#}
with

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue

),

occasions as (

    select
        account_id,
        occasion_date,
        sum(case when order_kind = 'sale' then 1 else 0 end) as sale_order_count,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin

    from orders
    group by account_id, occasion_date

),

final as (

    select
        account_id,
        occasion_date,
        sale_order_count,
        net_revenue,
        gross_margin,
        row_number() over (partition by account_id order by occasion_date) as occasion_number

    from occasions
    -- a return whose sale is not booked leaves a day without a sale: not an occasion
    where sale_order_count > 0

)

select * from final
