"""The dashboards in real Chromium: `crm serve dashboards` on a free port, sign in, every page without a
Streamlit exception (a screenshot of each), and care tasks created here showing up in the CRM app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_app.db import get_engine, session_scope
from crm_app.models import Activity
from tests.browser import DASHBOARD_PAGES, LAST_RUN, RENDERED, free_port, start_dashboards, stop_server
from tests.dashboards.conftest import Warehouse, demo_password

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(warehouse: Warehouse) -> Iterator[str]:
    port = free_port()
    process = start_dashboards(warehouse.env, port, timeout=60)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


def sign_in(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(demo_password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=60_000)
    page.wait_for_selector("span.page-rendered", state="attached", timeout=60_000)


def last_run(page: Any) -> int:
    return int(page.evaluate(LAST_RUN))


def open_page(page: Any, key: str) -> None:
    """Go to a page through the sidebar (as a user does) and wait until it is fully rendered."""
    before = last_run(page)
    current = page.evaluate("() => [...document.querySelectorAll('span.page-rendered')].map(m => m.dataset.page).pop()")
    if current == key:
        before -= 1  # already there (clicking the current page does not run it again)
    else:
        page.locator('[data-testid="stSidebarNavLink"]', has_text=DASHBOARD_PAGES[key]).click()
    page.wait_for_function(RENDERED, arg=[key, before], timeout=60_000)


def test_every_page_renders_in_chromium_without_an_exception(
    page: Any, server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("dashboard-screenshots")
    page.set_viewport_size({"width": 1500, "height": 1000})
    # not signed in: a page's own address shows the sign-in form and no figures
    page.goto(f"{server}/care_list")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stMetric"]').count() == 0

    sign_in(page, server, "exec")
    for key, title in DASHBOARD_PAGES.items():
        open_page(page, key)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{title} raised an exception"
        assert page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"]').count() > 0, title
        page.screenshot(path=str(shots / f"{key}.png"), full_page=True)
    assert len(list(shots.glob("*.png"))) == len(DASHBOARD_PAGES)
    print(f"screenshots in {shots}")


def _app_client(warehouse: Warehouse, username: str) -> Any:
    """The CRM app (crm_app.web.server.create_app) on the session's database, signed in through its form."""
    import re

    from fastapi.testclient import TestClient

    from crm_app.settings import Settings
    from crm_app.web.server import create_app

    settings = Settings(data_dir=warehouse.data_dir, secret_key="browser-test-secret-0123456789abcdef")
    client = TestClient(create_app(settings), base_url="http://testserver", follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the app's sign-in form carries no CSRF token"
    response = client.post(
        "/login", data={"username": username, "password": demo_password(), "csrf_token": token.group(1), "next": "/"}
    )
    assert response.status_code == 303, response.text[:500]
    return client


def test_care_tasks_created_in_the_dashboards_appear_in_the_app_once(
    page: Any, server: str, dash_env: Warehouse, browser: Any
) -> None:
    manager = "manager"  # the demo manager of one sales department
    keys = dash_env.mart(
        "select dedupe_key, account_id, account_name, owner_id from marts.care_list c "
        "where department_id in (select department_id from marts.dim_departments d "
        "  where d.department_path like '%/' || (select cast(department_id as varchar) from marts.dim_employees "
        "  where username = ?) || '/%')",
        [manager],
    )
    assert not keys.empty

    def created() -> int:
        with session_scope(get_engine()) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Activity)
                    .where(Activity.dedupe_key.in_(keys["dedupe_key"].tolist()))
                )
                or 0
            )

    sign_in(page, server, manager)
    open_page(page, "care_list")
    other = browser.new_page()  # the same list in a second tab, drawn before anything is created
    sign_in(other, server, manager)
    open_page(other, "care_list")

    page.get_by_role("button", name="Create care tasks").click()
    page.get_by_text("care tasks created").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert created() == len(keys)

    other.get_by_role("button", name="Create care tasks").click()
    other.get_by_text("already existed").wait_for(timeout=60_000)
    assert "0 care tasks created" in other.get_by_text("already existed").inner_text()
    assert created() == len(keys)
    other.close()

    # the tasks are in the CRM app: the owner of the first row sees it in the API and on the account page
    first = keys.iloc[0]
    owner = dash_env.value("select username from marts.dim_employees where user_id = ?", [int(first["owner_id"])])
    client = _app_client(dash_env, owner)
    listed = client.get("/api/v1/activities", params={"account_id": int(first["account_id"]), "status": "open"})
    assert listed.status_code == 200, listed.text
    subjects = [item["subject"] for item in listed.json()["items"]]
    assert any(str(first["account_name"]) in subject for subject in subjects), subjects
    account_page = client.get(f"/accounts/{int(first['account_id'])}")
    assert account_page.status_code == 200
    assert any(subject in account_page.text for subject in subjects if str(first["account_name"]) in subject)
    client.close()
