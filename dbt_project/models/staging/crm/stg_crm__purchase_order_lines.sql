with

source as (

    select * from {{ source('crm', 'purchase_order_lines') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as purchase_order_line_id,
        cast(purchase_order_id as {{ dbt.type_int() }}) as purchase_order_id,
        cast(position as {{ dbt.type_int() }}) as position,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(quantity as decimal(12, 3)) as quantity,
        cast(unit_cost as decimal(14, 2)) as unit_cost,
        cast(line_total as decimal(14, 2)) as line_total,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
