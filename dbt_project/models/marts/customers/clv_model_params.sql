with

scored as (

    select * from {{ ref('int_customers__clv_scored') }}
    where record_type = 'parameter'

),

final as (

    select
        model,
        parameter,
        value,
        std_error,
        time_unit,
        log_likelihood,
        cast(customers_fitted as {{ dbt.type_int() }}) as customers_fitted,
        converged,
        cast(iterations as {{ dbt.type_int() }}) as iterations,
        status,
        frequency_monetary_corr,
        {{ as_of_date() }} as as_of_date,
        {{ horizon_days() }} as horizon_days

    from scored

)

select * from final
