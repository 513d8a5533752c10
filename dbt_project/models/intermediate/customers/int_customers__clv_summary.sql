{#- The BG/NBD + Gamma-Gamma input: one row per customer with at least one purchase occasion, times in days
    from the first occasion (x = repeat occasions, t_x = recency, T = age at the as-of date). Also the same
    history as it stood `p_alive_lookback_days` earlier, so the model can say whether P(alive) fell. -#}
with

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

earlier as (

    select {{ as_of_date_plus(- var('p_alive_lookback_days') | int) }} as earlier_date

),

per_customer as (

    select
        occasions.account_id,
        min(occasions.occasion_date) as first_occasion_date,
        max(occasions.occasion_date) as last_occasion_date,
        count(*) as occasion_count,
        sum(occasions.net_revenue) as net_revenue,
        sum(occasions.gross_margin) as gross_margin,
        sum(case when occasions.occasion_number > 1 then occasions.net_revenue else 0 end) as repeat_net_revenue,
        sum(case when occasions.occasion_date <= earlier.earlier_date then 1 else 0 end) as earlier_occasion_count,
        max(case when occasions.occasion_date <= earlier.earlier_date then occasions.occasion_date end)
            as earlier_last_occasion_date

    from occasions
    cross join earlier
    group by occasions.account_id

),

final as (

    select
        per_customer.account_id,
        per_customer.first_occasion_date,
        per_customer.last_occasion_date,
        per_customer.occasion_count,
        per_customer.occasion_count - 1 as frequency,
        {{ dbt.datediff('per_customer.first_occasion_date', 'per_customer.last_occasion_date', 'day') }} as recency,
        {{ dbt.datediff('per_customer.first_occasion_date', as_of_date(), 'day') }} as age,
        cast(
            case
                when per_customer.occasion_count > 1
                    then per_customer.repeat_net_revenue / (per_customer.occasion_count - 1)
                else 0
            end as {{ type_double() }}
        ) as monetary_value,
        -- null when the customer has no positive net revenue: the model then uses the overall rate
        cast(
            case when per_customer.net_revenue > 0 then per_customer.gross_margin / per_customer.net_revenue end
            as {{ type_double() }}
        ) as margin_rate,
        -- the same customer seen from the earlier date (null if they had not bought yet)
        case
            when per_customer.earlier_occasion_count > 0 then per_customer.earlier_occasion_count - 1
        end as earlier_frequency,
        case
            when per_customer.earlier_occasion_count > 0
                then {{ dbt.datediff('per_customer.first_occasion_date', 'per_customer.earlier_last_occasion_date', 'day') }}
        end as earlier_recency,
        case
            when per_customer.earlier_occasion_count > 0
                then {{ dbt.datediff('per_customer.first_occasion_date', 'earlier.earlier_date', 'day') }}
        end as earlier_age

    from per_customer
    cross join earlier

)

select * from final
