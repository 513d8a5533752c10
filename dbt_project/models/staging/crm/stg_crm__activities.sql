with

source as (

    select * from {{ source('crm', 'activities') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as activity_id,
        cast(kind as {{ dbt.type_string() }}) as activity_kind,
        cast(purpose as {{ dbt.type_string() }}) as purpose,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(status as {{ dbt.type_string() }}) as activity_status,
        cast(owner_id as {{ dbt.type_int() }}) as owner_id,
        cast(account_id as {{ dbt.type_int() }}) as account_id,
        cast(contact_id as {{ dbt.type_int() }}) as contact_id,
        cast(opportunity_id as {{ dbt.type_int() }}) as opportunity_id,
        cast(case_id as {{ dbt.type_int() }}) as case_id,
        cast(campaign_id as {{ dbt.type_int() }}) as campaign_id,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        cast(done_at as {{ dbt.type_timestamp() }}) as done_at,
        cast(duration_minutes as {{ dbt.type_int() }}) as duration_minutes,
        cast(expense as decimal(14, 2)) as expense,
        cast(recurrence_rule as {{ dbt.type_string() }}) as recurrence_rule,
        cast(recurrence_parent_id as {{ dbt.type_int() }}) as recurrence_parent_activity_id,
        cast(dedupe_key as {{ dbt.type_string() }}) as dedupe_key,
        cast(custom as {{ dbt.type_string() }}) as custom_fields,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

    where deleted_at is null

)

select * from renamed
