with

source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as contact_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(mobile as {{ dbt.type_string() }}) as mobile,
        cast(is_primary as {{ dbt.type_boolean() }}) as is_primary,
        cast(birthday as date) as birthday,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
