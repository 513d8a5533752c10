{#- Each campaign started by the as-of date: reach, response and conversion of its members, the deals it
    brought (opportunities with it as source campaign), cost per won customer and return on its cost. -#}
with

campaigns as (

    select * from {{ ref('stg_crm__campaigns') }}
    where coalesce(start_date, cast(created_at as date)) <= {{ as_of_date() }}

),

members as (

    select * from {{ ref('fct_campaign_members') }}

),

opportunities as (

    select * from {{ ref('fct_opportunities') }}
    where source_campaign_id is not null

),

customers as (

    select * from {{ ref('dim_customers') }}
    where source_campaign_id is not null

),

reach as (

    select
        campaign_id,
        count(*) as targeted_count,
        count(case when is_sent then 1 end) as sent_count,
        count(case when is_responded then 1 end) as responded_count,
        count(case when is_converted then 1 end) as converted_count,
        avg(days_to_response) as avg_days_to_response

    from members
    group by campaign_id

),

deals as (

    select
        source_campaign_id as campaign_id,
        count(*) as opportunity_count,
        count(case when opportunity_status = 'open' then 1 end) as open_opportunity_count,
        count(case when opportunity_status = 'won' then 1 end) as won_count,
        count(case when opportunity_status = 'lost' then 1 end) as lost_count,
        sum(case when opportunity_status = 'won' then amount else 0 end) as attributed_won_revenue,
        sum(weighted_amount) as weighted_open_pipeline,
        count(distinct case when opportunity_status = 'won' then account_id end) as won_customer_count

    from opportunities
    group by source_campaign_id

),

acquired as (

    select
        source_campaign_id as campaign_id,
        count(*) as acquired_customer_count

    from customers
    group by source_campaign_id

),

final as (

    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_kind,
        campaigns.campaign_status,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.owner_id,
        campaigns.department_id,
        campaigns.budget,
        campaigns.actual_cost,
        campaigns.actual_cost - campaigns.budget as cost_over_budget,
        coalesce(reach.targeted_count, 0) as targeted_count,
        coalesce(reach.sent_count, 0) as sent_count,
        coalesce(reach.responded_count, 0) as responded_count,
        coalesce(reach.converted_count, 0) as converted_count,
        case when reach.sent_count > 0 then cast(reach.responded_count as {{ type_double() }}) / reach.sent_count end
            as response_rate,
        case
            when reach.targeted_count > 0 then cast(reach.converted_count as {{ type_double() }}) / reach.targeted_count
        end as conversion_rate,
        reach.avg_days_to_response,
        coalesce(acquired.acquired_customer_count, 0) as acquired_customer_count,
        coalesce(deals.opportunity_count, 0) as opportunity_count,
        coalesce(deals.open_opportunity_count, 0) as open_opportunity_count,
        coalesce(deals.won_count, 0) as won_count,
        coalesce(deals.lost_count, 0) as lost_count,
        case
            when coalesce(deals.won_count, 0) + coalesce(deals.lost_count, 0) > 0
                then cast(deals.won_count as {{ type_double() }}) / (deals.won_count + deals.lost_count)
        end as win_rate,
        coalesce(deals.attributed_won_revenue, 0) as attributed_won_revenue,
        coalesce(deals.weighted_open_pipeline, 0) as weighted_open_pipeline,
        coalesce(deals.won_customer_count, 0) as won_customer_count,
        case when deals.won_customer_count > 0 then campaigns.actual_cost / deals.won_customer_count end
            as cost_per_won_customer,
        -- return on the campaign's cost: (attributed won revenue - cost) / cost
        case
            when campaigns.actual_cost > 0
                then (coalesce(deals.attributed_won_revenue, 0) - campaigns.actual_cost) / campaigns.actual_cost
        end as roi

    from campaigns
    left join reach
        on campaigns.campaign_id = reach.campaign_id
    left join deals
        on campaigns.campaign_id = deals.campaign_id
    left join acquired
        on campaigns.campaign_id = acquired.campaign_id

)

select * from final
