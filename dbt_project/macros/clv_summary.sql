{#- The BG/NBD + Gamma-Gamma input of each customer, as their purchase history stood at the end of `as_of`:
    one row per customer with an occasion by then; times in days from the first occasion (x = repeat occasions,
    t_x = first to last occasion, T = first occasion to `as_of`); monetary_value = mean net revenue of the repeat
    occasions; margin_rate = gross margin / net revenue (null when net revenue <= 0). `occasions` is a relation
    shaped like int_customers__purchase_occasions (occasion_number counts from the customer's first occasion).
    One piece of code for every date the model looks at: the as-of date, the P(alive) lookback, the back-test's
    calibration end. -#}
{% macro clv_summary(occasions, as_of) -%}
    select
        account_id,
        min(occasion_date) as first_occasion_date,
        max(occasion_date) as last_occasion_date,
        count(*) as occasion_count,
        count(*) - 1 as frequency,
        {{ dbt.datediff('min(occasion_date)', 'max(occasion_date)', 'day') }} as recency,
        {{ dbt.datediff('min(occasion_date)', as_of, 'day') }} as age,
        cast(
            case
                when count(*) > 1
                    then sum(case when occasion_number > 1 then net_revenue else 0 end) / (count(*) - 1)
                else 0
            end as {{ type_double() }}
        ) as monetary_value,
        -- null when the customer has no positive net revenue: the model then uses the overall rate
        cast(
            case when sum(net_revenue) > 0 then sum(gross_margin) / sum(net_revenue) end as {{ type_double() }}
        ) as margin_rate

    from {{ occasions }}
    where occasion_date <= {{ as_of }}
    group by account_id
{%- endmacro %}
