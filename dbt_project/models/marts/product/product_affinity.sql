{#- Pairs of products bought in the same sale order (association rules antecedent -> consequent). -#}
with

lines as (

    select * from {{ ref('fct_order_lines') }}
    where order_kind = 'sale' and is_revenue and product_id is not null

),

products as (

    select * from {{ ref('dim_products') }}

),

baskets as (

    select distinct
        order_id,
        product_id

    from lines

),

basket_count as (

    select count(distinct order_id) as order_count from baskets

),

product_orders as (

    select
        product_id,
        count(*) as order_count

    from baskets
    group by product_id

),

pairs as (

    select
        antecedent.product_id as antecedent_product_id,
        consequent.product_id as consequent_product_id,
        count(*) as pair_order_count

    from baskets as antecedent
    inner join baskets as consequent
        on antecedent.order_id = consequent.order_id
        and antecedent.product_id <> consequent.product_id
    group by antecedent.product_id, consequent.product_id
    having count(*) >= {{ var('affinity_min_pair_orders') }}

),

measured as (

    select
        pairs.antecedent_product_id,
        pairs.consequent_product_id,
        pairs.pair_order_count,
        antecedents.order_count as antecedent_order_count,
        consequents.order_count as consequent_order_count,
        basket_count.order_count as total_order_count,
        -- support: share of all orders holding both; confidence: share of orders with the antecedent that
        -- also hold the consequent; lift: confidence over the consequent's own share (> 1: bought together
        -- more often than chance)
        cast(pairs.pair_order_count as {{ type_double() }}) / basket_count.order_count as support,
        cast(pairs.pair_order_count as {{ type_double() }}) / antecedents.order_count as confidence,
        (cast(pairs.pair_order_count as {{ type_double() }}) / antecedents.order_count)
            / (cast(consequents.order_count as {{ type_double() }}) / basket_count.order_count) as lift

    from pairs
    inner join product_orders as antecedents
        on pairs.antecedent_product_id = antecedents.product_id
    inner join product_orders as consequents
        on pairs.consequent_product_id = consequents.product_id
    cross join basket_count

),

final as (

    select
        measured.antecedent_product_id,
        antecedent_products.product_name as antecedent_product_name,
        antecedent_products.root_category_id as antecedent_root_category_id,
        measured.consequent_product_id,
        consequent_products.product_name as consequent_product_name,
        consequent_products.root_category_id as consequent_root_category_id,
        measured.pair_order_count,
        measured.antecedent_order_count,
        measured.consequent_order_count,
        measured.total_order_count,
        measured.support,
        measured.confidence,
        measured.lift,
        row_number() over (
            partition by measured.antecedent_product_id
            order by measured.lift desc, measured.confidence desc, measured.consequent_product_id
        ) as lift_rank_for_antecedent

    from measured
    left join products as antecedent_products
        on measured.antecedent_product_id = antecedent_products.product_id
    left join products as consequent_products
        on measured.consequent_product_id = consequent_products.product_id

)

select * from final
