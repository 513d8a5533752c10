{#- Products ranked on the last 12 months to the as-of date: revenue, profit and customers; plus lifetime
    figures and the customer group that buys each product most. -#}
with

products as (

    select * from {{ ref('dim_products') }}

),

lines as (

    select * from {{ ref('fct_order_lines') }}
    where is_revenue and product_id is not null

),

product_mix as (

    select * from {{ ref('int_customers__product_mix') }}
    where product_id is not null

),

customers as (

    select * from {{ ref('dim_customers') }}

),

sales as (

    select
        product_id,
        sum(net_revenue) as lifetime_net_revenue,
        sum(gross_margin) as lifetime_gross_margin,
        sum(net_quantity) as lifetime_net_quantity,
        count(distinct case when order_kind = 'sale' then account_id end) as lifetime_customers,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then net_revenue else 0 end) as t12m_net_revenue,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then gross_margin else 0 end) as t12m_gross_margin,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then net_quantity else 0 end) as t12m_net_quantity,
        count(distinct case when order_date > {{ as_of_date_plus(-365) }} and order_kind = 'sale' then account_id end)
            as t12m_customers

    from lines
    group by product_id

),

industry_revenue as (

    select
        product_mix.product_id,
        customers.industry,
        sum(product_mix.net_revenue) as net_revenue,
        row_number() over (
            partition by product_mix.product_id order by sum(product_mix.net_revenue) desc, customers.industry
        ) as industry_rank

    from product_mix
    inner join customers
        on product_mix.account_id = customers.account_id
    where customers.industry is not null
    group by product_mix.product_id, customers.industry

),

measured as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category_id,
        products.category_name,
        products.root_category_id,
        products.root_category_name,
        products.is_active,
        coalesce(sales.lifetime_net_revenue, 0) as lifetime_net_revenue,
        coalesce(sales.lifetime_gross_margin, 0) as lifetime_gross_margin,
        coalesce(sales.lifetime_net_quantity, 0) as lifetime_net_quantity,
        coalesce(sales.lifetime_customers, 0) as lifetime_customers,
        coalesce(sales.t12m_net_revenue, 0) as t12m_net_revenue,
        coalesce(sales.t12m_gross_margin, 0) as t12m_gross_margin,
        coalesce(sales.t12m_net_quantity, 0) as t12m_net_quantity,
        coalesce(sales.t12m_customers, 0) as t12m_customers,
        case
            when sales.t12m_net_revenue > 0 then sales.t12m_gross_margin / sales.t12m_net_revenue
        end as t12m_margin_rate,
        industry_revenue.industry as top_buyer_industry

    from products
    left join sales
        on products.product_id = sales.product_id
    left join industry_revenue
        on products.product_id = industry_revenue.product_id
        and industry_revenue.industry_rank = 1

),

final as (

    select
        measured.*,
        rank() over (order by t12m_net_revenue desc) as revenue_rank,
        rank() over (order by t12m_gross_margin desc) as profit_rank,
        rank() over (order by t12m_customers desc) as customers_rank

    from measured

)

select * from final
