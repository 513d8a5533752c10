{#- Each department with its place in the tree: depth, root and the path of ids from the root. -#}
with recursive

departments as (

    select * from {{ ref('stg_crm__departments') }}

),

tree as (

    select
        department_id,
        department_id as root_department_id,
        0 as depth,
        '/' || cast(department_id as {{ dbt.type_string() }}) || '/' as department_path

    from departments
    where parent_department_id is null

    union all

    select
        child.department_id,
        tree.root_department_id,
        tree.depth + 1 as depth,
        tree.department_path || cast(child.department_id as {{ dbt.type_string() }}) || '/' as department_path

    from departments as child
    inner join tree
        on child.parent_department_id = tree.department_id
    -- a cycle in parent links would recurse forever; no real tree is this deep
    where tree.depth < 50

),

final as (

    select * from tree

)

select * from final
