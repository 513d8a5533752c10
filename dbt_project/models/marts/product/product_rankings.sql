{#- Products per department (the department of the orders) on the last 12 months to the as-of date: revenue,
    profit, quantity and customers, lifetime and trailing 12 months, ranked within the department; plus the
    industry whose customers buy the product most (all departments: a property of the product). Every measure
    adds up over departments; a buyer counts once per product, in the department of their latest purchase of it. -#}
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
        department_id,
        sum(net_revenue) as lifetime_net_revenue,
        sum(gross_margin) as lifetime_gross_margin,
        sum(net_quantity) as lifetime_net_quantity,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then net_revenue else 0 end) as t12m_net_revenue,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then gross_margin else 0 end) as t12m_gross_margin,
        sum(case when order_date > {{ as_of_date_plus(-365) }} then net_quantity else 0 end) as t12m_net_quantity

    from lines
    group by product_id, department_id

),

-- each buyer of a product once, with the department of their latest purchase of it (which is in the last 12
-- months whenever they bought it then), so the departments' customer counts add up to the product's buyers
buyers as (

    select
        product_id,
        account_id,
        {{ latest_value('department_id', 'order_date', 'order_line_id') }} as department_id,
        max(order_date) as last_order_date

    from lines
    where order_kind = 'sale'
    group by product_id, account_id

),

buyer_counts as (

    select
        product_id,
        department_id,
        count(*) as lifetime_customers,
        count(case when last_order_date > {{ as_of_date_plus(-365) }} then 1 end) as t12m_customers

    from buyers
    group by product_id, department_id

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
        sales.product_id,
        sales.department_id,
        products.sku,
        products.product_name,
        products.category_id,
        products.category_name,
        products.root_category_id,
        products.root_category_name,
        products.is_active,
        sales.lifetime_net_revenue,
        sales.lifetime_gross_margin,
        sales.lifetime_net_quantity,
        coalesce(buyer_counts.lifetime_customers, 0) as lifetime_customers,
        sales.t12m_net_revenue,
        sales.t12m_gross_margin,
        sales.t12m_net_quantity,
        coalesce(buyer_counts.t12m_customers, 0) as t12m_customers,
        case
            when sales.t12m_net_revenue > 0 then sales.t12m_gross_margin / sales.t12m_net_revenue
        end as t12m_margin_rate,
        industry_revenue.industry as top_buyer_industry

    from sales
    inner join products
        on sales.product_id = products.product_id
    left join buyer_counts
        on sales.product_id = buyer_counts.product_id
        and sales.department_id is not distinct from buyer_counts.department_id
    left join industry_revenue
        on sales.product_id = industry_revenue.product_id
        and industry_revenue.industry_rank = 1

),

final as (

    select
        measured.*,
        rank() over (partition by department_id order by t12m_net_revenue desc) as revenue_rank,
        rank() over (partition by department_id order by t12m_gross_margin desc) as profit_rank,
        rank() over (partition by department_id order by t12m_customers desc) as customers_rank

    from measured

)

select * from final
