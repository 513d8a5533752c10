with

source as (

    select * from {{ source('crm', 'cases') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as case_id,
        cast(number as {{ dbt.type_string() }}) as case_number,
        cast(kind as {{ dbt.type_string() }}) as case_kind,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(status as {{ dbt.type_string() }}) as case_status,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(order_id as {{ dbt.type_int() }}) as order_id,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(resolution as {{ dbt.type_string() }}) as resolution,
        cast(satisfaction as {{ dbt.type_int() }}) as satisfaction,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
