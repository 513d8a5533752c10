with

source as (

    select * from {{ source('crm', 'products') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as product_id,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(name as {{ dbt.type_string() }}) as product_name,
        cast(category_id as {{ dbt.type_int() }}) as category_id,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(list_price as decimal(14, 2)) as list_price,
        cast(unit_cost as decimal(14, 2)) as unit_cost,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
