with

source as (

    select * from {{ source('crm', 'favorites') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as favorite_id,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(entity_id as {{ dbt.type_int() }}) as entity_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
