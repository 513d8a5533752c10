{#- What each customer bought, product by product, as of the as-of date (net of returns). -#}
with

lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_revenue

),

final as (

    select
        account_id,
        product_id,
        min(category_id) as category_id,
        min(root_category_id) as root_category_id,
        sum(net_quantity) as net_quantity,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin

    from lines
    group by account_id, product_id

)

select * from final
