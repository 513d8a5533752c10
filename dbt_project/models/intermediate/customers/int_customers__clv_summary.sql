{#- The BG/NBD + Gamma-Gamma input: one row per customer with at least one purchase occasion, times in days
    from the first occasion (x = repeat occasions, t_x = recency, T = age at the as-of date). Also the same
    history as it stood `p_alive_lookback_days` earlier, so the model can say whether P(alive) fell. -#}
with

occasions as (

    select * from {{ ref('int_customers__purchase_occasions') }}

),

as_of_view as (

    {{ clv_summary('occasions', as_of_date()) }}

),

earlier_view as (

    {{ clv_summary('occasions', as_of_date_plus(- var('p_alive_lookback_days') | int)) }}

),

final as (

    select
        as_of_view.account_id,
        as_of_view.first_occasion_date,
        as_of_view.last_occasion_date,
        as_of_view.occasion_count,
        as_of_view.frequency,
        as_of_view.recency,
        as_of_view.age,
        as_of_view.monetary_value,
        as_of_view.margin_rate,
        -- the same customer seen from the earlier date (null if they had not bought yet)
        earlier_view.frequency as earlier_frequency,
        earlier_view.recency as earlier_recency,
        earlier_view.age as earlier_age

    from as_of_view
    left join earlier_view
        on as_of_view.account_id = earlier_view.account_id

)

select * from final
