{#- Each product category with its place in the tree: depth, top-level (root) category and path of ids. -#}
with recursive

categories as (

    select * from {{ ref('stg_crm__product_categories') }}

),

tree as (

    select
        category_id,
        category_id as root_category_id,
        0 as depth,
        '/' || cast(category_id as {{ dbt.type_string() }}) || '/' as category_path

    from categories
    where parent_category_id is null

    union all

    select
        child.category_id,
        tree.root_category_id,
        tree.depth + 1 as depth,
        tree.category_path || cast(child.category_id as {{ dbt.type_string() }}) || '/' as category_path

    from categories as child
    inner join tree
        on child.parent_category_id = tree.category_id
    -- a cycle in parent links would recurse forever; no real tree is this deep
    where tree.depth < 50

),

final as (

    select * from tree

)

select * from final
