with

source as (

    select * from {{ source('crm', 'payments') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as payment_id,
        cast(order_id as {{ dbt.type_int() }}) as order_id,
        cast(payment_plan_id as {{ dbt.type_int() }}) as payment_plan_id,
        cast(paid_on as date) as paid_on,
        cast(amount as decimal(14, 2)) as amount,
        cast(method as {{ dbt.type_string() }}) as method,
        cast(reference as {{ dbt.type_string() }}) as reference,
        cast(recorded_by_id as {{ dbt.type_int() }}) as recorded_by_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
