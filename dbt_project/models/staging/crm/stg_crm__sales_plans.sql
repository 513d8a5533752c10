with

source as (

    select * from {{ source('crm', 'sales_plans') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as sales_plan_id,
        cast(period_month as date) as period_month,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(user_id as {{ dbt.type_int() }}) as user_id,
        cast(category_id as {{ dbt.type_int() }}) as category_id,
        cast(target_quantity as decimal(12, 3)) as target_quantity,
        cast(target_revenue as decimal(14, 2)) as target_revenue,
        cast(target_collections as decimal(14, 2)) as target_collections,
        cast(target_margin as decimal(14, 2)) as target_margin,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
