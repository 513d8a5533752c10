with

answers as (

    select * from {{ ref('stg_crm__survey_answers') }}

),

responses as (

    select * from {{ ref('stg_crm__survey_responses') }}
    where responded_at < {{ as_of_cutoff() }}

),

questions as (

    select * from {{ ref('stg_crm__survey_questions') }}

),

surveys as (

    select * from {{ ref('stg_crm__surveys') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

final as (

    select
        answers.answer_id,
        answers.response_id,
        responses.survey_id,
        surveys.survey_kind,
        answers.question_id,
        questions.question_kind,
        questions.weight as question_weight,
        questions.max_score as question_max_score,
        responses.account_id,
        accounts.region,
        accounts.department_id,
        responses.opportunity_id,
        responses.case_id,
        responses.user_id,
        responses.responded_at,
        cast(responses.responded_at as date) as responded_date,
        responses.response_score,
        answers.answer_score,
        -- the answer on a 0-1 scale, comparable across questions with different maxima
        case
            when questions.max_score > 0 then answers.answer_score / questions.max_score
        end as answer_score_ratio,
        answers.value_number,
        answers.value_text

    from answers
    inner join responses
        on answers.response_id = responses.response_id
    left join questions
        on answers.question_id = questions.question_id
    left join surveys
        on responses.survey_id = surveys.survey_id
    left join accounts
        on responses.account_id = accounts.account_id

    -- answers to responses about soft-deleted accounts go with them
    where responses.account_id is null or accounts.account_id is not null

)

select * from final
