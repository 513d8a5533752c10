with

source as (

    select * from {{ source('crm', 'price_policies') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as price_policy_id,
        cast(name as {{ dbt.type_string() }}) as price_policy_name,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(default_discount_pct as decimal(5, 2)) as default_discount_pct,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
