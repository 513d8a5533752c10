with

source as (

    select * from {{ source('crm', 'survey_questions') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as question_id,
        cast(survey_id as {{ dbt.type_int() }}) as survey_id,
        cast(position as {{ dbt.type_int() }}) as position,
        cast(text as {{ dbt.type_string() }}) as question_text,
        cast(kind as {{ dbt.type_string() }}) as question_kind,
        cast(choices as {{ dbt.type_string() }}) as choices,
        cast(weight as decimal(6, 2)) as weight,
        cast(max_score as decimal(6, 2)) as max_score,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
