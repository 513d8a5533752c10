with

source as (

    select * from {{ source('crm', 'templates') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as template_id,
        cast(name as {{ dbt.type_string() }}) as template_name,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(body as {{ dbt.type_string() }}) as body,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
