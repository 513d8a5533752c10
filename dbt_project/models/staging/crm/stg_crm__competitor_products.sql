with

source as (

    select * from {{ source('crm', 'competitor_products') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as competitor_product_id,
        cast(competitor_id as {{ dbt.type_int() }}) as competitor_id,
        cast(name as {{ dbt.type_string() }}) as competitor_product_name,
        cast(category_id as {{ dbt.type_int() }}) as category_id,
        cast(compared_product_id as {{ dbt.type_int() }}) as compared_product_id,
        cast(price as decimal(14, 2)) as price,
        cast(comparison as {{ dbt.type_string() }}) as comparison,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
