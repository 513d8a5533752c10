with

source as (

    select * from {{ source('crm', 'saved_segments') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as saved_segment_id,
        cast(name as {{ dbt.type_string() }}) as segment_name,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(definition as {{ dbt.type_string() }}) as definition_json,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
