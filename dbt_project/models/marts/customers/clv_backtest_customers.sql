{#- The customer value back-test per customer: what the model fitted at the calibration end predicted for the
    hold-out period and what the customer then did, with the decile of the prediction. -#}
with

summary as (

    select * from {{ ref('int_customers__clv_backtest_summary') }}

),

predicted as (

    select * from {{ ref('int_customers__clv_backtest') }}
    where record_type = 'customer'

),

final as (

    select
        summary.account_id,
        summary.calibration_end_date,
        summary.holdout_end_date,
        summary.frequency as calibration_frequency,
        summary.recency as calibration_recency,
        summary.age as calibration_age,
        predicted.p_alive as calibration_p_alive,
        predicted.predicted_purchases,
        summary.actual_purchases,
        predicted.expected_avg_order_value,
        predicted.predicted_net_revenue,
        summary.actual_net_revenue,
        -- 10 = the tenth of customers with the most predicted purchases; equal predictions are split by
        -- account id so the deciles are equal-sized and the same on every run
        cast(ntile(10) over (order by predicted.predicted_purchases, summary.account_id) as {{ dbt.type_int() }})
            as predicted_purchases_decile

    from summary
    inner join predicted
        on summary.account_id = predicted.account_id

)

select * from final
