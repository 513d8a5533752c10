with

source as (

    select * from {{ source('crm', 'departments') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as department_id,
        cast(name as {{ dbt.type_string() }}) as department_name,
        cast(code as {{ dbt.type_string() }}) as department_code,
        cast(parent_id as {{ dbt.type_int() }}) as parent_department_id,
        cast(manager_id as {{ dbt.type_int() }}) as manager_user_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
