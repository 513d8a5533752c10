with

source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as account_id,
        cast(kind as {{ dbt.type_string() }}) as account_kind,
        cast(name as {{ dbt.type_string() }}) as account_name,
        cast(external_ref as {{ dbt.type_string() }}) as external_ref,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(tier as {{ dbt.type_string() }}) as tier,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(size as {{ dbt.type_string() }}) as company_size,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(website as {{ dbt.type_string() }}) as website,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(source_campaign_id as {{ dbt.type_int() }}) as source_campaign_id,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(parent_id as {{ dbt.type_int() }}) as parent_account_id,
        cast(price_policy_id as {{ dbt.type_int() }}) as price_policy_id,
        cast(credit_limit as decimal(14, 2)) as credit_limit,
        cast(notes as {{ dbt.type_string() }}) as notes,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
