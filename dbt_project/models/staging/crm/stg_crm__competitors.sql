with

source as (

    select * from {{ source('crm', 'competitors') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as competitor_id,
        cast(name as {{ dbt.type_string() }}) as competitor_name,
        cast(website as {{ dbt.type_string() }}) as website,
        cast(strengths as {{ dbt.type_string() }}) as strengths,
        cast(weaknesses as {{ dbt.type_string() }}) as weaknesses,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
