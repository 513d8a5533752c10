with

source as (

    select * from {{ source('crm', 'purchase_orders') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as purchase_order_id,
        cast(number as {{ dbt.type_string() }}) as purchase_order_number,
        cast(kind as {{ dbt.type_string() }}) as purchase_kind,
        cast(return_of_id as {{ dbt.type_int() }}) as return_of_purchase_order_id,
        cast(supplier_id as {{ dbt.type_int() }}) as supplier_id,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(status as {{ dbt.type_string() }}) as purchase_status,
        cast(order_date as date) as order_date,
        cast(expected_date as date) as expected_date,
        cast(total_amount as decimal(14, 2)) as total_amount,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
