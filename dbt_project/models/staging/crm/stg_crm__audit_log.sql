with

source as (

    select * from {{ source('crm', 'audit_log') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as audit_log_id,
        cast("at" as {{ dbt.type_timestamp() }}) as logged_at,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(action as {{ dbt.type_string() }}) as action,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(entity_id as {{ dbt.type_int() }}) as entity_id,
        cast(changes as {{ dbt.type_string() }}) as changes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
