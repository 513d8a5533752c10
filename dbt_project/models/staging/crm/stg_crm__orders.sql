with

source as (

    select * from {{ source('crm', 'orders') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as order_id,
        cast(number as {{ dbt.type_string() }}) as order_number,
        cast(external_ref as {{ dbt.type_string() }}) as external_ref,
        cast(kind as {{ dbt.type_string() }}) as order_kind,
        cast(return_of_id as {{ dbt.type_int() }}) as return_of_order_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(quote_id as {{ dbt.type_int() }}) as quote_id,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(partner_id as {{ dbt.type_int() }}) as partner_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(status as {{ dbt.type_string() }}) as order_status,
        cast(order_date as date) as order_date,
        cast(total_amount as decimal(14, 2)) as total_amount,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
