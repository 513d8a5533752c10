with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as opportunity_id,
        cast(name as {{ dbt.type_string() }}) as opportunity_name,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(stage_id as {{ dbt.type_int() }}) as stage_id,
        cast(status as {{ dbt.type_string() }}) as opportunity_status,
        cast(amount as decimal(14, 2)) as amount,
        cast(probability as decimal(5, 4)) as probability,
        cast(expected_close_date as date) as expected_close_date,
        cast(closed_date as date) as closed_date,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(department_id as {{ dbt.type_int() }}) as department_id,
        cast(source_campaign_id as {{ dbt.type_int() }}) as source_campaign_id,
        cast(competitor_id as {{ dbt.type_int() }}) as competitor_id,
        cast(lost_reason as {{ dbt.type_string() }}) as lost_reason,
        cast(lost_note as {{ dbt.type_string() }}) as lost_note,
        cast(evaluation_score as decimal(5, 2)) as evaluation_score,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
