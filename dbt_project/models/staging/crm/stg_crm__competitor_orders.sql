with

source as (

    select * from {{ source('crm', 'competitor_orders') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as competitor_order_id,
        cast(competitor_id as {{ dbt.type_int() }}) as competitor_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(competitor_product_id as {{ dbt.type_int() }}) as competitor_product_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(order_date as date) as order_date,
        cast(amount as decimal(14, 2)) as amount,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
