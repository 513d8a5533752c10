with

departments as (

    select * from {{ ref('stg_crm__departments') }}

),

tree as (

    select * from {{ ref('int_departments__tree') }}

),

users as (

    select * from {{ ref('stg_crm__users') }}

),

final as (

    select
        departments.department_id,
        departments.department_name,
        departments.department_code,
        departments.parent_department_id,
        parents.department_name as parent_department_name,
        tree.root_department_id,
        tree.depth,
        -- "/1/4/9/": a manager of department 4 sees every row whose path contains "/4/"
        tree.department_path,
        departments.manager_user_id,
        managers.full_name as manager_name,
        departments.is_deleted

    from departments
    left join tree
        on departments.department_id = tree.department_id
    left join departments as parents
        on departments.parent_department_id = parents.department_id
    left join users as managers
        on departments.manager_user_id = managers.user_id

)

select * from final
