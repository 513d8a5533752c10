with

source as (

    select * from {{ source('crm', 'document_templates') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as document_template_id,
        cast(name as {{ dbt.type_string() }}) as document_template_name,
        cast(document as {{ dbt.type_string() }}) as document,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
