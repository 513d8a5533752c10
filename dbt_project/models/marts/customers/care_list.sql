{#- The manual's customer care (DESIGN.md §4): value customers to thank, value-changing customers to
    encourage, problem customers to talk to, each with a plain-language reason and the person to act. -#}
with

customer_values as (

    select * from {{ ref('customer_value') }}

),

windows as (

    select * from {{ ref('int_customers__order_windows') }}

),

service as (

    select * from {{ ref('int_customers__service') }}

),

employees as (

    select * from {{ ref('dim_employees') }}

),

departments as (

    select * from {{ ref('dim_departments') }}

),

{%- set threshold = var('value_change_threshold') %}
{%- set period = var('value_change_period_days') | int %}
{%- set lookback = var('p_alive_lookback_days') | int %}
{%- set tiers = var('value_changing_tiers') %}

signals as (

    select
        value.*,
        case
            when value.previous_period_net_revenue > 0
                then (value.last_period_net_revenue - value.previous_period_net_revenue)
                    / value.previous_period_net_revenue
        end as spend_change,
        coalesce(service.open_complaint_count, 0) as open_complaint_count,
        service.oldest_open_complaint_date,
        coalesce(service.t12m_rated_case_count, 0) as t12m_rated_case_count,
        service.t12m_avg_satisfaction,
        coalesce(windows.previous_period_occasion_count, 0) as previous_period_occasion_count,
        coalesce(windows.overdue_amount, 0) as overdue_amount,
        windows.oldest_overdue_due_date

    from customer_values as value
    left join windows
        on value.account_id = windows.account_id
    left join service
        on value.account_id = service.account_id

),

flagged as (

    select
        signals.*,
        signals.open_complaint_count > 0 as has_open_complaints,
        signals.t12m_avg_satisfaction <= {{ var('low_satisfaction_max') }} as has_low_satisfaction,
        signals.overdue_amount > 0
            and signals.oldest_overdue_due_date < {{ as_of_date_plus(- var('overdue_grace_days') | int) }}
            as has_overdue_collections,
        signals.value_tier in ({% for tier in tiers %}'{{ tier }}'{{ ',' if not loop.last }}{% endfor %})
            and signals.previous_period_occasion_count >= {{ var('value_change_min_occasions') }}
            and signals.spend_change is not null
            and abs(signals.spend_change) > {{ threshold }} as has_spend_change,
        signals.value_tier in ({% for tier in tiers %}'{{ tier }}'{{ ',' if not loop.last }}{% endfor %})
            and signals.p_alive < {{ var('p_alive_alert') }}
            and signals.p_alive_earlier - signals.p_alive >= {{ var('p_alive_drop') }} as has_falling_p_alive

    from signals

),

problem_customers as (

    select
        flagged.*,
        'problem' as reason_kind,
        'talk to them' as action,
        concat_ws('; ',
            case when has_open_complaints then
                cast(open_complaint_count as {{ dbt.type_string() }})
                || case when open_complaint_count = 1 then ' open complaint' else ' open complaints' end
                || ' (oldest opened ' || cast(oldest_open_complaint_date as {{ dbt.type_string() }}) || ')'
            end,
            case when has_low_satisfaction then
                'average satisfaction ' || {{ number_text('t12m_avg_satisfaction', 1) }} || ' of 5 on '
                || cast(t12m_rated_case_count as {{ dbt.type_string() }})
                || case when t12m_rated_case_count = 1 then ' case' else ' cases' end
                || ' in the last 12 months'
            end,
            case when has_overdue_collections then
                {{ money_text('overdue_amount') }} || ' overdue since '
                || cast(oldest_overdue_due_date as {{ dbt.type_string() }})
                || ' (' || cast({{ dbt.datediff('oldest_overdue_due_date', as_of_date(), 'day') }} as {{ dbt.type_string() }})
                || ' days)'
            end
        ) as reason,
        -- more problems first, then the most valuable customer
        (case when has_open_complaints then 1 else 0 end)
            + (case when has_low_satisfaction then 1 else 0 end)
            + (case when has_overdue_collections then 1 else 0 end) as priority_signals

    from flagged
    where has_open_complaints or has_low_satisfaction or has_overdue_collections

),

value_changing_customers as (

    select
        flagged.*,
        'value_changing' as reason_kind,
        'encourage' as action,
        concat_ws('; ',
            case when has_spend_change then
                'spent ' || {{ money_text('last_period_net_revenue') }} || ' in the last {{ period }} days against '
                || {{ money_text('previous_period_net_revenue') }} || ' in the {{ period }} days before ('
                || case when spend_change > 0 then '+' else '' end
                || {{ number_text('100 * spend_change', 0) }} || '%)'
            end,
            case when has_falling_p_alive then
                'chance of still being an active customer fell from ' || {{ number_text('100 * p_alive_earlier', 0) }}
                || '% to ' || {{ number_text('100 * p_alive', 0) }} || '% over the last {{ lookback }} days'
            end
        ) as reason,
        (case when has_spend_change then 1 else 0 end)
            + (case when has_falling_p_alive then 1 else 0 end) as priority_signals

    from flagged
    where has_spend_change or has_falling_p_alive

),

value_customers as (

    select
        flagged.*,
        'value' as reason_kind,
        'thank them' as action,
        'top value customer: ' || {{ money_text('t12m_gross_margin') }}
            || ' gross margin in the last 12 months and ' || {{ money_text('predicted_clv') }}
            || ' expected from future purchases; spending steady, '
            || {{ number_text('100 * p_alive', 0) }} || '% likely still active' as reason,
        1 as priority_signals

    from flagged
    where value_tier = 'top'
        -- stable: no problem to talk about and no change to react to
        and coalesce(p_alive, 0) >= {{ var('p_alive_alert') }}
        and not (has_open_complaints or coalesce(has_low_satisfaction, false) or has_overdue_collections)
        and not (coalesce(has_spend_change, false) or coalesce(has_falling_p_alive, false))

),

care_rows as (

    select * from problem_customers
    union all
    select * from value_changing_customers
    union all
    select * from value_customers

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        care_rows.account_id,
        care_rows.external_ref,
        care_rows.account_name,
        care_rows.reason_kind,
        care_rows.action,
        care_rows.reason,
        -- the account's owner acts; without an active owner, the manager of the account's department
        case
            when owners.user_id is not null and owners.is_active and not owners.is_deleted then owners.user_id
            else departments.manager_user_id
        end as owner_id,
        case
            when owners.user_id is not null and owners.is_active and not owners.is_deleted then owners.full_name
            else departments.manager_name
        end as owner_name,
        care_rows.department_id,
        care_rows.department_path,
        care_rows.region,
        care_rows.value_tier,
        care_rows.value_score,
        care_rows.p_alive,
        care_rows.spend_change,
        care_rows.open_complaint_count,
        care_rows.t12m_avg_satisfaction,
        care_rows.overdue_amount,
        row_number() over (
            partition by care_rows.reason_kind
            order by care_rows.priority_signals desc, care_rows.value_score desc, care_rows.account_id
        ) as priority_rank,
        -- the key crm_app.services.care uses so a care task is created once per row
        'care:' || cast({{ as_of_date() }} as {{ dbt.type_string() }}) || ':'
            || cast(care_rows.account_id as {{ dbt.type_string() }}) || ':' || care_rows.reason_kind as dedupe_key

    from care_rows
    left join employees as owners
        on care_rows.owner_id = owners.user_id
    left join departments
        on care_rows.department_id = departments.department_id

)

select * from final
