with

source as (

    select * from {{ source('crm', 'purchase_plans') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as purchase_plan_id,
        cast(period_month as date) as period_month,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(supplier_id as {{ dbt.type_int() }}) as supplier_id,
        cast(planned_quantity as decimal(12, 3)) as planned_quantity,
        cast(planned_unit_cost as decimal(14, 2)) as planned_unit_cost,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
