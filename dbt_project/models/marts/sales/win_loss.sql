{#- Won and lost deals by the month they closed: win rate by count and amount, sales cycle, lost reasons. -#}
with

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where is_closed

),

final as (

    select
        closed_month,
        department_id,
        region,
        owner_id,
        count(case when opportunity_status = 'won' then 1 end) as won_count,
        count(case when opportunity_status = 'lost' then 1 end) as lost_count,
        count(*) as closed_count,
        sum(case when opportunity_status = 'won' then amount else 0 end) as won_amount,
        sum(case when opportunity_status = 'lost' then amount else 0 end) as lost_amount,
        -- win rate = won / (won + lost) closed in the period (DESIGN.md §4)
        cast(count(case when opportunity_status = 'won' then 1 end) as {{ type_double() }}) / count(*)
            as win_rate,
        case
            when sum(amount) > 0
                then cast(sum(case when opportunity_status = 'won' then amount else 0 end) as {{ type_double() }})
                    / cast(sum(amount) as {{ type_double() }})
        end as win_rate_amount,
        -- sales cycle = close - created, won deals only; the sum lets filtered views re-average
        sum(case when opportunity_status = 'won' then sales_cycle_days else 0 end) as won_cycle_days_sum,
        avg(case when opportunity_status = 'won' then sales_cycle_days end) as avg_sales_cycle_days,
        count(case when opportunity_status = 'lost' and competitor_id is not null then 1 end)
            as lost_with_competitor_count,
        {%- for reason in var('lost_reasons') %}
        count(case when opportunity_status = 'lost' and lost_reason = '{{ reason }}' then 1 end)
            as lost_{{ reason }}_count,
        {%- endfor %}
        -- lost before the as-of date, but the reason recorded today belongs to a later loss
        count(case when opportunity_status = 'lost' and lost_reason is null then 1 end) as lost_reason_unknown_count

    from opportunities
    group by closed_month, department_id, region, owner_id

)

select * from final
