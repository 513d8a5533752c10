with

source as (

    select * from {{ source('crm', 'custom_field_definitions') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as custom_field_definition_id,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(name as {{ dbt.type_string() }}) as field_name,
        cast(label as {{ dbt.type_string() }}) as label,
        cast(field_type as {{ dbt.type_string() }}) as field_type,
        cast(choices as {{ dbt.type_string() }}) as choices,
        cast(required as {{ dbt.type_boolean() }}) as required,
        cast(position as {{ dbt.type_int() }}) as position,
        cast(help_text as {{ dbt.type_string() }}) as help_text,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
