with

source as (

    select * from {{ source('crm', 'price_policy_items') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as price_policy_item_id,
        cast(price_policy_id as {{ dbt.type_int() }}) as price_policy_id,
        cast(product_id as {{ dbt.type_int() }}) as product_id,
        cast(category_id as {{ dbt.type_int() }}) as category_id,
        cast(discount_pct as decimal(5, 2)) as discount_pct,
        cast(fixed_price as decimal(14, 2)) as fixed_price,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
