with

source as (

    select * from {{ source('crm', 'quotes') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as quote_id,
        cast(number as {{ dbt.type_string() }}) as quote_number,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(price_policy_id as {{ dbt.type_int() }}) as price_policy_id,
        cast(status as {{ dbt.type_string() }}) as quote_status,
        cast(quote_date as date) as quote_date,
        cast(valid_until as date) as valid_until,
        cast(total_amount as decimal(14, 2)) as total_amount,
        cast(order_id as {{ dbt.type_int() }}) as order_id,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
