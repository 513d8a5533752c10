with

source as (

    select * from {{ source('crm', 'users') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as user_id,
        cast(username as {{ dbt.type_string() }}) as username,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(role as {{ dbt.type_string() }}) as role,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(manager_id as {{ dbt.type_int() }}) as manager_user_id,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(hired_on as date) as hired_on,
        cast(last_login_at as {{ dbt.type_timestamp() }}) as last_login_at,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
