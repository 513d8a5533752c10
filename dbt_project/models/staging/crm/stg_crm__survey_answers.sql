with

source as (

    select * from {{ source('crm', 'survey_answers') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_int() }}) as answer_id,
        cast(response_id as {{ dbt.type_int() }}) as response_id,
        cast(question_id as {{ dbt.type_int() }}) as question_id,
        cast(value_text as {{ dbt.type_string() }}) as value_text,
        cast(value_number as decimal(12, 2)) as value_number,
        cast(score as decimal(6, 2)) as answer_score,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at

    from source

)

select * from renamed
