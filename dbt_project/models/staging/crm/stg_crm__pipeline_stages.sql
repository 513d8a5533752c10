with

source as (

    select * from {{ source('crm', 'pipeline_stages') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as stage_id,
        cast(name as {{ dbt.type_string() }}) as stage_name,
        cast(position as {{ dbt.type_int() }}) as stage_position,
        cast(probability as decimal(5, 4)) as probability,
        cast(is_closed as {{ dbt.type_boolean() }}) as is_closed,
        cast(is_won as {{ dbt.type_boolean() }}) as is_won,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
