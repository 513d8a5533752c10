with

source as (

    select * from {{ source('crm', 'payment_plans') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as payment_plan_id,
        cast(order_id as {{ dbt.type_int() }}) as order_id,
        cast(kind as {{ dbt.type_string() }}) as plan_kind,
        cast(due_date as date) as due_date,
        cast(amount as decimal(14, 2)) as amount,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
