with

source as (

    select * from {{ source('crm', 'surveys') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as survey_id,
        cast(name as {{ dbt.type_string() }}) as survey_name,
        cast(kind as {{ dbt.type_string() }}) as survey_kind,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(campaign_id as {{ dbt.type_int() }}) as campaign_id,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
