{#- The manual's 7P customer analysis: one column group per P, prefixed with its name. -#}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

customer_values as (

    select * from {{ ref('customer_value') }}

),

rfm as (

    select * from {{ ref('customer_rfm') }}

),

windows as (

    select * from {{ ref('int_customers__order_windows') }}

),

service as (

    select * from {{ ref('int_customers__service') }}

),

product_mix as (

    select * from {{ ref('int_customers__product_mix') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue

),

activities as (

    select * from {{ ref('fct_activities') }}

),

members as (

    select * from {{ ref('fct_campaign_members') }}

),

campaigns as (

    select * from {{ ref('stg_crm__campaigns') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

categories as (

    select * from {{ ref('stg_crm__product_categories') }}

),

affinity as (

    select * from {{ ref('product_affinity') }}

),

-- performance: split by top-level category and by channel
category_split as (

    select
        account_id,
        root_category_id,
        sum(net_revenue) as net_revenue

    from product_mix
    group by account_id, root_category_id

),

category_summary as (

    select
        account_id,
        count(distinct case when net_revenue > 0 then root_category_id end) as category_count,
        sum(net_revenue) as net_revenue,
        max(root_category_id) filter (where category_rank = 1) as top_root_category_id,
        max(net_revenue) filter (where category_rank = 1) as top_category_revenue

    from (
        select
            category_split.*,
            row_number() over (
                partition by account_id order by net_revenue desc, root_category_id
            ) as category_rank
        from category_split
    ) as ranked
    group by account_id

),

channel_summary as (

    select
        account_id,
        count(distinct case when net_revenue > 0 then channel end) as channel_count,
        sum(net_revenue) as net_revenue,
        max(channel) filter (where channel_rank = 1) as top_channel,
        max(net_revenue) filter (where channel_rank = 1) as top_channel_revenue

    from (
        select
            account_id,
            channel,
            sum(net_revenue) as net_revenue,
            row_number() over (partition by account_id order by sum(net_revenue) desc, channel) as channel_rank
        from orders
        group by account_id, channel
    ) as ranked
    group by account_id

),

-- product: breadth, favourite product and the best cross-sell not bought yet
product_summary as (

    select
        account_id,
        count(distinct case when net_quantity > 0 then product_id end) as product_count,
        max(product_id) filter (where product_rank = 1) as top_product_id

    from (
        select
            product_mix.*,
            row_number() over (
                partition by account_id order by net_revenue desc, product_id
            ) as product_rank
        from product_mix
        where product_id is not null
    ) as ranked
    group by account_id

),

cross_sell as (

    select
        product_summary.account_id,
        affinity.consequent_product_id as cross_sell_product_id,
        affinity.lift as cross_sell_lift,
        row_number() over (
            partition by product_summary.account_id
            order by affinity.lift_rank_for_antecedent
        ) as suggestion_rank

    from product_summary
    inner join affinity
        on product_summary.top_product_id = affinity.antecedent_product_id
        and affinity.lift > 1
        -- the ten best partners of a product are plenty to find one the customer has not bought
        and affinity.lift_rank_for_antecedent <= 10
    left join product_mix as bought
        on product_summary.account_id = bought.account_id
        and affinity.consequent_product_id = bought.product_id

    where bought.account_id is null

),

-- profitability: direct cost of serving the customer
service_costs as (

    select
        account_id,
        sum(expense) as activity_expense

    from activities
    where account_id is not null
    group by account_id

),

-- promotion: campaign response and the deals campaigns brought
campaign_summary as (

    select
        account_id,
        count(*) as campaigns_targeted,
        sum(case when is_sent then 1 else 0 end) as campaigns_sent,
        sum(case when is_responded then 1 else 0 end) as campaigns_responded,
        sum(case when is_converted then 1 else 0 end) as campaigns_converted,
        max(campaign_id) filter (where latest_rank = 1) as last_campaign_id

    from (
        select
            members.*,
            row_number() over (
                partition by account_id order by added_at desc, campaign_id desc
            ) as latest_rank
        from members
    ) as ranked
    group by account_id

),

campaign_deals as (

    select
        account_id,
        sum(case when opportunity_status = 'won' then amount else 0 end) as campaign_won_amount

    from opportunities
    where source_campaign_id is not null
    group by account_id

),

final as (

    select
        customers.account_id,
        customers.external_ref,
        customers.account_name,
        customers.owner_id,
        customers.owner_name,
        customers.department_id,
        customers.department_path,
        customers.region,

        -- Profiling: level, risk, preferences, habits
        customers.tier as profiling_account_tier,
        customer_values.value_tier as profiling_value_tier,
        rfm.segment as profiling_rfm_segment,
        rfm.rfm_cell as profiling_rfm_cell,
        customers.lifecycle_stage as profiling_lifecycle_stage,
        customers.industry as profiling_industry,
        customers.company_size as profiling_company_size,
        1 - customer_values.p_alive as profiling_churn_risk,
        case
            when customer_values.p_alive is null then 'unknown'
            when customer_values.p_alive >= 0.7 then 'low'
            when customer_values.p_alive >= 0.4 then 'medium'
            else 'high'
        end as profiling_churn_risk_band,
        channel_summary.top_channel as profiling_preferred_channel,
        category_summary.top_root_category_id as profiling_preferred_category_id,
        preferred_categories.category_name as profiling_preferred_category_name,
        windows.avg_days_between_occasions as profiling_avg_days_between_purchases,
        case
            when windows.sale_order_count > 0 then windows.lifetime_net_revenue / windows.sale_order_count
        end as profiling_avg_order_value,

        -- Persistence: how long, how steadily, how it changes
        customers.customer_since as persistence_customer_since,
        {{ dbt.datediff('customers.customer_since', as_of_date(), 'day') }} as persistence_tenure_days,
        windows.first_occasion_date as persistence_first_purchase_date,
        windows.last_occasion_date as persistence_last_purchase_date,
        {{ dbt.datediff('windows.last_occasion_date', as_of_date(), 'day') }} as persistence_days_since_last_purchase,
        coalesce(windows.occasion_count, 0) as persistence_purchase_occasions,
        coalesce(windows.t12m_occasion_count, 0) as persistence_t12m_purchase_occasions,
        coalesce(windows.t12m_active_months, 0) as persistence_t12m_active_months,
        -- spread of the gaps between purchases relative to their mean: 0 = clockwork, > 1 = erratic
        case
            when windows.avg_days_between_occasions > 0
                then windows.stddev_days_between_occasions / windows.avg_days_between_occasions
        end as persistence_purchase_gap_variation,
        case
            when windows.prior_12m_net_revenue > 0
                then (windows.t12m_net_revenue - windows.prior_12m_net_revenue) / windows.prior_12m_net_revenue
        end as persistence_revenue_change_12m,
        customer_values.p_alive as persistence_p_alive,

        -- Profitability: margin, total profit, net profit
        coalesce(windows.lifetime_net_revenue, 0) as profitability_lifetime_net_revenue,
        coalesce(windows.lifetime_gross_margin, 0) as profitability_lifetime_gross_margin,
        case
            when windows.lifetime_net_revenue > 0 then windows.lifetime_gross_margin / windows.lifetime_net_revenue
        end as profitability_margin_rate,
        coalesce(windows.t12m_net_revenue, 0) as profitability_t12m_net_revenue,
        coalesce(windows.t12m_gross_margin, 0) as profitability_t12m_gross_margin,
        coalesce(windows.returned_amount, 0) as profitability_returned_amount,
        coalesce(service_costs.activity_expense, 0) as profitability_service_cost,
        coalesce(windows.lifetime_gross_margin, 0) - coalesce(service_costs.activity_expense, 0)
            as profitability_net_profit,

        -- Performance: sales split by category, channel, location
        coalesce(category_summary.category_count, 0) as performance_category_count,
        case
            when category_summary.net_revenue > 0
                then category_summary.top_category_revenue / category_summary.net_revenue
        end as performance_top_category_share,
        coalesce(channel_summary.channel_count, 0) as performance_channel_count,
        case
            when channel_summary.net_revenue > 0 then channel_summary.top_channel_revenue / channel_summary.net_revenue
        end as performance_top_channel_share,
        customers.city as performance_city,

        -- Prospecting: how the customer came, what is coming
        customers.acquisition_source as prospecting_acquisition_source,
        customers.source_campaign_id as prospecting_source_campaign_id,
        customers.source_campaign_name as prospecting_source_campaign_name,
        customers.customer_since_month as prospecting_acquisition_month,
        customer_values.open_opportunity_count as prospecting_open_opportunities,
        customer_values.weighted_pipeline_amount as prospecting_weighted_pipeline,
        customer_values.expected_purchases as prospecting_expected_purchases,
        customer_values.predicted_clv as prospecting_predicted_clv,
        customer_values.potential_value as prospecting_potential_value,

        -- Product: mix and cross-sell
        coalesce(product_summary.product_count, 0) as product_distinct_products,
        product_summary.top_product_id as product_top_product_id,
        top_products.product_name as product_top_product_name,
        cross_sell.cross_sell_product_id as product_cross_sell_product_id,
        cross_sell_products.product_name as product_cross_sell_product_name,
        cross_sell.cross_sell_lift as product_cross_sell_lift,

        -- Promotion: campaigns and their response and return
        coalesce(campaign_summary.campaigns_targeted, 0) as promotion_campaigns_targeted,
        coalesce(campaign_summary.campaigns_responded, 0) as promotion_campaigns_responded,
        coalesce(campaign_summary.campaigns_converted, 0) as promotion_campaigns_converted,
        case
            when campaign_summary.campaigns_sent > 0
                then cast(campaign_summary.campaigns_responded as {{ type_double() }}) / campaign_summary.campaigns_sent
        end as promotion_response_rate,
        campaign_summary.last_campaign_id as promotion_last_campaign_id,
        last_campaigns.campaign_name as promotion_last_campaign_name,
        coalesce(campaign_deals.campaign_won_amount, 0) as promotion_campaign_won_amount,

        -- Service (complements profiling's risk)
        coalesce(service.open_complaint_count, 0) as profiling_open_complaints,
        service.t12m_avg_satisfaction as profiling_t12m_avg_satisfaction

    from customers
    left join customer_values
        on customers.account_id = customer_values.account_id
    left join rfm
        on customers.account_id = rfm.account_id
    left join windows
        on customers.account_id = windows.account_id
    left join service
        on customers.account_id = service.account_id
    left join category_summary
        on customers.account_id = category_summary.account_id
    left join categories as preferred_categories
        on category_summary.top_root_category_id = preferred_categories.category_id
    left join channel_summary
        on customers.account_id = channel_summary.account_id
    left join product_summary
        on customers.account_id = product_summary.account_id
    left join products as top_products
        on product_summary.top_product_id = top_products.product_id
    left join cross_sell
        on customers.account_id = cross_sell.account_id
        and cross_sell.suggestion_rank = 1
    left join products as cross_sell_products
        on cross_sell.cross_sell_product_id = cross_sell_products.product_id
    left join service_costs
        on customers.account_id = service_costs.account_id
    left join campaign_summary
        on customers.account_id = campaign_summary.account_id
    left join campaigns as last_campaigns
        on campaign_summary.last_campaign_id = last_campaigns.campaign_id
    left join campaign_deals
        on customers.account_id = campaign_deals.account_id

)

select * from final
