"""Every dashboards page renders without an exception and shows the marts' numbers (checked against the
published warehouse directly); nobody sees data without signing in; roles decide pages and rows."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import ui
from tests.browser import DASHBOARD_PAGES
from tests.dashboards.conftest import APP, Warehouse, exact, metric, open_page, viewer

pytestmark = pytest.mark.slow

ALL_PAGES = tuple(DASHBOARD_PAGES)


def _revenue(warehouse: Warehouse, where: str = "true", params: list | None = None) -> tuple[float, float]:
    start, end = warehouse.default_range
    row = warehouse.mart(
        f"select sum(net_revenue), sum(gross_margin) from marts.fct_order_lines "
        f"where order_date between ? and ? and {where}",
        [start, end, *(params or [])],
    ).iloc[0]
    return float(row.iloc[0]), float(row.iloc[1])


# ------------------------------------------------------------------------------------------- sign-in gate


def test_nobody_sees_data_without_signing_in(dash_env: Warehouse) -> None:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["CRM dashboards"]
    assert {t.label for t in app.text_input} == {"Username", "Password"}
    assert not app.metric and not app.dataframe
    # the data pages are not even registered before sign-in (the browser test visits their URLs)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/overview.py")


def test_sign_in_form_refuses_a_wrong_password_and_admits_the_right_one(dash_env: Warehouse) -> None:
    from tests.dashboards.conftest import demo_password

    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    app.text_input[0].input("exec")
    app.text_input[1].input("not-the-password")
    app.button[0].click()
    app.run()
    assert [e.value for e in app.error] == ["Wrong user name or password."]
    assert not app.metric

    app.text_input[0].input("exec")
    app.text_input[1].input(demo_password())
    app.button[0].click()
    app.run()
    assert not app.exception
    assert app.title[0].value == "Executive overview"
    assert metric(app, "Net revenue").value


# --------------------------------------------------------------------------------------- every page, exec


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_renders_for_an_executive(dash_env: Warehouse, page: str) -> None:
    app = open_page(viewer("exec"), page)
    assert app.title, "the page has no title"
    assert not app.error, [e.value for e in app.error]
    assert app.metric or app.dataframe


SECTIONS = {
    "overview": "overview-section",
    "customer_value": "value-section",
    "funnel": "funnel-section",
    "rankings": "rankings-section",
    "service": "service-section",
    "marketing": "marketing-section",
    "data_health": "health-section",
}


@pytest.mark.parametrize("page", sorted(SECTIONS))
def test_every_section_of_a_page_renders(dash_env: Warehouse, page: str) -> None:
    app = open_page(viewer("exec"), page)
    control = app.segmented_control(key=SECTIONS[page])
    for option in control.options[1:]:
        app.segmented_control(key=SECTIONS[page]).set_value(option).run()
        assert not app.exception, (page, option, [e.message for e in app.exception])
        assert not app.error, (page, option)
        assert app.metric or app.dataframe or app.info, (page, option)


def test_overview_shows_the_marts_revenue_margin_pipeline_and_risks(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"))
    revenue, margin = _revenue(dash_env)
    assert exact(app, "Net revenue") == round(revenue)
    assert metric(app, "Net revenue").value == ui.money(revenue, compact=True)
    assert exact(app, "Gross margin") == round(margin)
    open_amount = dash_env.value("select sum(amount) from marts.fct_opportunities where opportunity_status = 'open'")
    assert exact(app, "Open pipeline") == round(float(open_amount))
    funnel_open = dash_env.value("select sum(open_amount) from marts.sales_funnel")
    assert round(float(funnel_open)) == round(float(open_amount))  # same figure as the funnel page
    # the sections below the headline figures: only the chosen one is computed and drawn
    assert len(app.get("plotly_chart")) == 2
    app.segmented_control(key="overview-section").set_value("Top risks").run()
    assert not app.exception
    problems = dash_env.value("select count(*) from marts.care_list where reason_kind = 'problem'")
    assert metric(app, "Problem customers").value == f"{problems:,}"
    for section in ("Forecast", "Prior periods"):
        app.segmented_control(key="overview-section").set_value(section).run()
        assert not app.exception and app.dataframe, section


def test_overview_sets_the_forecast_against_the_plans_of_coming_months(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"))
    app.segmented_control(key="overview-section").set_value("Forecast").run()
    assert not app.exception
    shown = app.dataframe[0].value
    as_of_month = dash_env.as_of.replace(day=1)
    targets = dash_env.mart(
        "select period_month, sum(target_revenue) as target from marts.plan_vs_actual "
        "where plan_level = 'department' and period_month >= ? group by 1 order by 1",
        [as_of_month],
    )
    # the demo plans run beyond the as-of month: coming months have targets and no actuals yet
    assert (targets["period_month"] > pd.Timestamp(as_of_month)).any()
    future = dash_env.value(
        "select count(*) from marts.plan_vs_actual where is_future_month and actual_revenue is null"
    )
    assert future > 0
    # forecast months beyond the last plan have no target
    planned = shown.dropna(subset=["target_revenue"])
    by_month = {pd.Timestamp(m): round(t) for m, t in zip(planned["month"], planned["target_revenue"], strict=True)}
    assert len(by_month) == len(targets)
    for row in targets.itertuples():
        assert by_month[pd.Timestamp(row.period_month)] == round(float(row.target))
    forecast = dash_env.value("select sum(forecast_amount) from marts.sales_forecast")
    assert round(shown["forecast_amount"].sum()) == round(float(forecast))


def test_customer_value_shows_the_value_marts(dash_env: Warehouse) -> None:
    app = open_page(viewer("analyst"), "customer_value")
    row = dash_env.mart(
        "select count(*) n, sum(t12m_net_revenue) rev, sum(predicted_clv) clv, sum(potential_value) pot "
        "from marts.customer_value"
    ).iloc[0]
    assert metric(app, "Customers").value == f"{int(row['n']):,}"
    assert exact(app, "Realised value (12 months)") == round(float(row["rev"]))
    assert exact(app, "Model value (CLV)") == round(float(row["clv"]))
    assert exact(app, "Potential value") == round(float(row["pot"]))
    # one customer's 7P profile: the most valuable customer is preselected, every P has a box
    app.segmented_control(key="value-section").set_value("One customer's 7P").run()
    top = dash_env.value("select account_name from marts.customer_value order by value_score desc nulls last limit 1")
    markdown = " ".join(m.value for m in app.markdown)
    assert top in markdown
    for heading in ("Profiling", "Persistence", "Profitability", "Performance", "Prospecting", "Product", "Promotion"):
        assert f"**{heading}**" in markdown


def test_customer_profile_search_finds_a_customer_by_legacy_id(dash_env: Warehouse) -> None:
    app = open_page(viewer("analyst"), "customer_value")
    app.segmented_control(key="value-section").set_value("One customer's 7P").run()
    ref, name = dash_env.mart(
        "select external_ref, account_name from marts.customer_7p where external_ref is not null "
        "order by account_id desc limit 1"
    ).iloc[0]
    app.text_input(key="profile-search").input(str(ref)).run()
    assert not app.exception
    assert f"### {name} · {ref}" in [m.value for m in app.markdown]


def test_funnel_shows_open_deals_and_the_win_rate_of_the_period(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "funnel")
    open_deals = dash_env.value("select sum(open_count) from marts.sales_funnel")
    assert metric(app, "Open deals").value == f"{int(open_deals):,}"
    start, end = dash_env.default_range
    won, lost = dash_env.mart(
        "select sum(won_count), sum(lost_count) from marts.win_loss where closed_month between ? and ?", [start, end]
    ).iloc[0]
    assert metric(app, "Win rate").value == ui.percent(won / (won + lost))


def test_plan_shows_department_targets_of_the_period(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "plan")
    start, end = dash_env.default_range
    target, actual = dash_env.mart(
        "select sum(target_revenue), sum(actual_revenue) from marts.plan_vs_actual "
        "where plan_level = 'department' and period_month between ? and ?",
        [start, end],
    ).iloc[0]
    assert exact(app, "Target revenue") == round(float(target))
    assert exact(app, "Actual revenue") == round(float(actual))
    assert metric(app, "Revenue attainment").value == ui.percent(float(actual) / float(target))


def test_rankings_put_the_marts_number_one_first(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "rankings")
    best = dash_env.value("select full_name from marts.employee_rankings where revenue_rank = 1 order by full_name")
    employees = app.dataframe[0].value
    assert employees.iloc[0]["employee"] == best
    app.selectbox(key="rank-employee-metric").select("Win rate").run()
    assert not app.exception
    best_rate = dash_env.value(
        "select full_name from marts.employee_rankings where win_rate_rank = 1 order by full_name"
    )
    assert app.dataframe[0].value.iloc[0]["employee"] == best_rate


def test_service_quality_counts_cases_of_the_period(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "service")
    start, end = dash_env.default_range
    cases = dash_env.value(
        "select sum(cases_opened) from marts.service_quality "
        "where breakdown = 'month' and period_month between ? and ?",
        [start, end],
    )
    assert metric(app, "Cases opened").value == f"{int(cases):,}"


def test_marketing_counts_campaigns_and_costs_of_the_period(dash_env: Warehouse) -> None:
    app = open_page(viewer("analyst"), "marketing")
    start, end = dash_env.default_range
    count, cost = dash_env.mart(
        "select count(*), sum(actual_cost) from marts.campaign_performance where start_date between ? and ?",
        [start, end],
    ).iloc[0]
    assert metric(app, "Campaigns").value == f"{int(count):,}"
    assert exact(app, "Actual cost") == round(float(cost or 0))


def test_data_health_shows_the_refresh_log_checks_and_model_fit(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"), "data_health")
    assert metric(app, "As-of date").value == f"{dash_env.as_of:%d %b %Y}"
    passed = dash_env.value("select checks_passed from main.refresh_log order by finished_at desc limit 1")
    assert f"{int(passed):,} checks passed, 0 failed." in [c.value for c in app.caption]
    assert [s.value for s in app.success][:2] == [
        "No failed refresh on record.",
        f"All {_gate_rules(dash_env)} gate rules passed.",
    ]
    app.segmented_control(key="health-section").set_value("Customer value model").run()
    assert not app.exception
    params = {t.value.shape[0] for t in app.dataframe}
    assert dash_env.value("select count(*) from marts.clv_model_params") in params
    assert any("purchases predicted" in c.value for c in app.caption)
    # the back-test comes from its mart: the model fitted before the hold-out against what happened in it
    total = dash_env.mart("select * from marts.clv_backtest where breakdown = 'total'").iloc[0]
    assert metric(app, "Purchases made").value == f"{int(total['actual_purchases']):,}"
    assert metric(app, "Purchases predicted").value == ui.number(total["predicted_purchases"], 0)
    assert exact(app, "Revenue made") == round(float(total["actual_net_revenue"]))
    deciles = dash_env.value("select count(*) from marts.clv_backtest where breakdown = 'decile'")
    months = dash_env.value("select count(*) from marts.clv_backtest where breakdown = 'month'")
    assert deciles == 10 and months >= 6
    assert deciles + months + 1 in params


def _gate_rules(warehouse: Warehouse) -> int:
    return int(
        warehouse.value(
            "select json_array_length(checks -> '$.gate') from main.refresh_log order by finished_at desc limit 1"
        )
    )


def test_sidebar_filters_change_the_figures(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"))
    region = dash_env.value(
        "select region from marts.fct_order_lines group by 1 order by sum(net_revenue) desc limit 1"
    )
    app.multiselect(key="filter-regions").select(region).run()
    assert not app.exception
    revenue, _ = _revenue(dash_env, "region = ?", [region])
    assert exact(app, "Net revenue") == round(revenue)
    category = dash_env.value("select min(root_category_id) from marts.dim_products")
    app.multiselect(key="filter-categories").select(int(category)).run()
    revenue, _ = _revenue(dash_env, "region = ? and root_category_id = ?", [region, int(category)])
    assert exact(app, "Net revenue") == round(revenue)
    # the filters hold on the next page too
    app.switch_page("app_pages/customer_value.py").run()
    customers = dash_env.value(
        "select count(*) from marts.customer_value where region = ? and account_id in "
        "(select account_id from marts.fct_order_lines where root_category_id = ?)",
        [region, int(category)],
    )
    assert metric(app, "Customers").value == f"{customers:,}"


# ------------------------------------------------------------------------------------------------ roles


def _tree(warehouse: Warehouse, department_id: int) -> list[int]:
    frame = warehouse.mart(
        "select department_id from marts.dim_departments where department_path like ?", [f"%/{department_id}/%"]
    )
    return [int(d) for d in frame["department_id"]]


def test_a_manager_sees_only_their_department_trees_totals(dash_env: Warehouse) -> None:
    manager = viewer("kai.evans")  # manager of Sales, which has sub-departments
    tree = _tree(dash_env, int(manager.department_id or 0))
    assert len(tree) > 1
    marks = ", ".join("?" for _ in tree)

    app = open_page(manager)
    revenue, margin = _revenue(dash_env, f"department_id in ({marks})", tree)
    assert exact(app, "Net revenue") == round(revenue)
    assert exact(app, "Gross margin") == round(margin)

    small = viewer("manager")  # the demo manager of one sales department
    small_tree = _tree(dash_env, int(small.department_id or 0))
    marks = ", ".join("?" for _ in small_tree)
    app = open_page(small)
    revenue, _ = _revenue(dash_env, f"department_id in ({marks})", small_tree)
    everyone, _ = _revenue(dash_env)
    assert exact(app, "Net revenue") == round(revenue) < round(everyone)
    pipeline = dash_env.value(
        f"select sum(amount) from marts.fct_opportunities where opportunity_status = 'open' "
        f"and department_id in ({marks})",
        small_tree,
    )
    assert exact(app, "Open pipeline") == round(float(pipeline or 0))

    app.switch_page("app_pages/customer_value.py").run()
    customers = dash_env.value(
        f"select count(*) from marts.customer_value where department_id in ({marks})", small_tree
    )
    assert metric(app, "Customers").value == f"{customers:,}"
    app.switch_page("app_pages/care_list.py").run()
    care = dash_env.mart(
        f"select reason_kind, count(*) n from marts.care_list where department_id in ({marks}) group by 1", small_tree
    )
    for row in care.itertuples():
        label = {"problem": "Problem customers", "value_changing": "Value changing", "value": "Value customers"}
        assert metric(app, label[row.reason_kind]).value == f"{row.n:,}"
    # the sidebar offers only the manager's own departments
    options = set(app.multiselect(key="filter-departments").options)
    assert len(options) == len(small_tree)


def test_a_manager_ranks_their_departments_products_and_sees_their_competitors(dash_env: Warehouse) -> None:
    manager = viewer("manager")
    tree = _tree(dash_env, int(manager.department_id or 0))
    marks = ", ".join("?" for _ in tree)
    app = open_page(manager, "rankings")
    app.segmented_control(key="rankings-section").set_value("Products").run()
    assert not app.exception and not app.info, [i.value for i in app.info]
    products = dash_env.mart(
        f"select product_name, sum(t12m_net_revenue) as revenue from marts.product_rankings "
        f"where department_id in ({marks}) group by product_id, product_name order by revenue desc, product_name",
        tree,
    )
    everyone = dash_env.value("select sum(t12m_net_revenue) from marts.product_rankings")
    shown = app.dataframe[0].value
    assert shown.iloc[0]["product"] == products.iloc[0]["product_name"]
    assert round(shown["t12m_net_revenue"].sum()) == round(float(products["revenue"].sum())) < round(float(everyone))
    assert list(shown["rank"][:3]) == [1, 2, 3]

    app.switch_page("app_pages/marketing.py").run()
    app.segmented_control(key="marketing-section").set_value("Competitors").run()
    assert not app.exception
    rivals = dash_env.mart(
        f"select sum(opportunity_count) as deals, sum(won_count) as won, sum(lost_count) as lost "
        f"from marts.competitor_analysis where department_id in ({marks}) and not coalesce(is_deleted, false)",
        tree,
    ).iloc[0]
    table = app.dataframe[0].value
    assert int(table["deals"].sum()) == int(rivals["deals"]) > 0
    assert int(table["won"].sum()) == int(rivals["won"])

    app.switch_page("app_pages/service.py").run()
    app.segmented_control(key="service-section").set_value("By product").run()
    assert not app.exception and not app.info
    cases = dash_env.value(
        f"select sum(cases_opened) from marts.service_quality where breakdown = 'product' "
        f"and department_id in ({marks})",
        tree,
    )
    by_product = app.dataframe[0].value
    assert len(by_product) <= 25 and int(by_product["cases_opened"].sum()) <= int(cases)
    top = dash_env.mart(
        f"select sum(cases_opened) as cases, sum(complaints_for_rate) as complaints, sum(sale_orders) as orders "
        f"from marts.service_quality s join marts.dim_products p using (product_id) "
        f"where breakdown = 'product' and department_id in ({marks}) and p.product_name = ?",
        [*tree, by_product.iloc[0]["product"]],
    ).iloc[0]
    assert int(by_product.iloc[0]["cases_opened"]) == int(top["cases"])
    assert by_product.iloc[0]["complaint_rate"] == pytest.approx(float(top["complaints"]) / float(top["orders"]))


def test_a_sales_rep_sees_their_own_book_and_fewer_pages(dash_env: Warehouse) -> None:
    rep = viewer("rep")
    app = open_page(rep)
    revenue, _ = _revenue(dash_env, "owner_id = ?", [rep.id])
    assert exact(app, "Net revenue") == round(revenue)
    app.switch_page("app_pages/customer_value.py").run()
    mine = dash_env.value("select count(*) from marts.customer_value where owner_id = ?", [rep.id])
    assert metric(app, "Customers").value == f"{mine:,}"
    app.switch_page("app_pages/plan.py").run()
    assert not app.exception
    target = dash_env.value(
        "select sum(target_revenue) from marts.plan_vs_actual where plan_level = 'employee' and user_id = ? "
        "and period_month between ? and ?",
        [rep.id, *dash_env.default_range],
    )
    assert exact(app, "Target revenue") == round(float(target))
    # their own funnel: the deals they own
    app.switch_page("app_pages/funnel.py").run()
    assert not app.exception and not app.info
    own, everyone = dash_env.mart(
        "select sum(open_count) filter (where owner_id = ?), sum(open_count) from marts.sales_funnel", [rep.id]
    ).iloc[0]
    assert metric(app, "Open deals").value == f"{int(own):,}"
    assert 0 < own < everyone
    app.segmented_control(key="funnel-section").set_value("Won & lost").run()
    assert not app.exception
    start, end = dash_env.default_range
    won = dash_env.value(
        "select sum(won_count) from marts.win_loss where owner_id = ? and closed_month between ? and ?",
        [rep.id, start, end],
    )
    assert int(app.dataframe[0].value["won"].sum()) == int(won)
    # pages a rep has no business on are not registered for them at all
    for page in ("rankings", "segments", "marketing", "data_health", "service"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(f"app_pages/{page}.py")


def test_a_service_agent_sees_the_service_figures_of_their_cases(dash_env: Warehouse) -> None:
    agent = viewer("agent")
    app = open_page(agent, "service")
    start, end = dash_env.default_range
    mine = dash_env.value(
        "select coalesce(sum(cases_opened), 0) from marts.service_quality "
        "where breakdown = 'month' and owner_id = ? and period_month between ? and ?",
        [agent.id, start, end],
    )
    assert metric(app, "Cases opened").value == f"{int(mine):,}"
    app.segmented_control(key="service-section").set_value("By employee").run()
    assert not app.exception
    handled = dash_env.value(
        "select sum(cases_opened) from marts.service_quality where breakdown = 'employee' and user_id = ?", [agent.id]
    )
    shown = app.dataframe[0].value
    assert list(shown["employee"]) == ["Avery Agent"]
    assert int(shown["cases_opened"].sum()) == int(handled) > 0


def test_a_signed_out_session_sees_the_sign_in_page_again(dash_env: Warehouse) -> None:
    app = open_page(viewer("exec"))
    app.button(key="sign-out").click().run()
    assert not app.exception
    assert [t.value for t in app.title] == ["CRM dashboards"] and not app.metric


def test_a_refresh_shows_new_numbers_without_a_restart(dash_env: Warehouse, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    from crm_app.settings import get_settings
    from tests.dashboards.conftest import copy_warehouse

    private = copy_warehouse(dash_env, tmp_path / "var")
    monkeypatch.setenv("CRM_DATA_DIR", str(private.data_dir))
    get_settings.cache_clear()
    app = open_page(viewer("exec"), "data_health")
    before = metric(app, "As-of date").value
    # publish a changed warehouse the way the pipeline does: a new file moved over the old one
    staged = private.data_dir / "warehouse" / "next.duckdb"
    staged.write_bytes(private.published.read_bytes())
    connection = duckdb.connect(str(staged))
    connection.execute("update main.refresh_log set as_of_date = as_of_date - 1, finished_at = finished_at")
    connection.close()
    time.sleep(0.01)
    staged.replace(private.published)
    app.run()
    assert not app.exception
    after = metric(app, "As-of date").value
    assert before != after
