with

products as (

    select * from {{ ref('stg_crm__products') }}

),

categories as (

    select * from {{ ref('stg_crm__product_categories') }}

),

category_tree as (

    select * from {{ ref('int_product_categories__tree') }}

),

final as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category_id,
        categories.category_name,
        category_tree.root_category_id,
        roots.category_name as root_category_name,
        category_tree.category_path,
        products.unit,
        products.list_price,
        -- today's cost: order lines carry the cost at the time of sale, which margins use
        products.unit_cost as current_unit_cost,
        products.is_active,
        products.is_deleted

    from products
    left join categories
        on products.category_id = categories.category_id
    left join category_tree
        on products.category_id = category_tree.category_id
    left join categories as roots
        on category_tree.root_category_id = roots.category_id

)

select * from final
