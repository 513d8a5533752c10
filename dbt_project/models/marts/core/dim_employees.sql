with

users as (

    select * from {{ ref('stg_crm__users') }}

),

departments as (

    select * from {{ ref('dim_departments') }}

),

final as (

    select
        users.user_id,
        users.username,
        users.full_name,
        users.email,
        users.role,
        users.department_id,
        departments.department_name,
        departments.department_path,
        users.manager_user_id,
        managers.full_name as manager_name,
        users.hired_on,
        users.is_active,
        users.is_deleted

    from users
    left join departments
        on users.department_id = departments.department_id
    left join users as managers
        on users.manager_user_id = managers.user_id

)

select * from final
