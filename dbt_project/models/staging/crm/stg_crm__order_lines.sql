with

source as (

    select * from {{ source('crm', 'order_lines') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as order_line_id,
        cast(order_id as {{ dbt.type_int() }}) as order_id,
        cast(unit_cost as decimal(14, 2)) as unit_cost,
        cast(return_of_line_id as {{ dbt.type_int() }}) as return_of_order_line_id,
        cast(position as {{ dbt.type_int() }}) as position,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(quantity as decimal(12, 3)) as quantity,
        cast(unit_price as decimal(14, 2)) as unit_price,
        cast(discount_pct as decimal(5, 2)) as discount_pct,
        cast(discount_amount as decimal(14, 2)) as discount_amount,
        cast(line_total as decimal(14, 2)) as line_total,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
