"""A sales rep's day in real Chromium: account, deal across the board to won, quote → order, payment, 360."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from crm_app.settings import Settings
from crm_app.web.server import create_app
from tests.browser import serve_in_thread
from tests.web.world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[str, World]]:
    world = build_world(engine)
    settings = Settings(
        database_url=db_url, data_dir=tmp_path / "var", secret_key="browser-test-secret-0123456789abcdef"
    )
    with serve_in_thread(create_app(settings, engine)) as base:
        yield base, world


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("CRM_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_rep_sells_from_account_to_paid_order_in_a_real_browser(live_server, page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base, world = live_server
    page.set_viewport_size({"width": 1600, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login?next=/")
    page.fill("input[name=username]", "rep1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Rep1")
    _shot(page, "01-my-day")

    # a new account
    page.goto(f"{base}/accounts/new")
    page.fill("#f-name", "Zephyr Logistics")
    page.select_option("#f-lifecycle_stage", "prospect")
    page.fill("#f-city", "Porto")
    page.fill("#f-email", "buyer@zephyr.example.com")
    _shot(page, "02-account-form")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_contain_text("Zephyr Logistics")
    account_url = page.url

    # an opportunity from the account's page
    page.click("a:has-text('New opportunity')")
    page.fill("#f-name", "Zephyr fleet deal")
    page.fill("#f-amount", "2500")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_contain_text("Zephyr fleet deal")
    deal_id = page.url.rstrip("/").rsplit("/", 1)[1]

    # across the board by drag and drop: Lead → Proposal → Won
    page.goto(f"{base}/opportunities/board?mine=true")
    card = f".deal[data-id='{deal_id}']"
    expect(page.locator(f".column[data-stage='{world.stages['Lead']}'] {card}")).to_be_visible()
    _shot(page, "03-board")
    page.drag_and_drop(card, f".column[data-stage='{world.stages['Proposal']}']")
    expect(page.locator(f".column[data-stage='{world.stages['Proposal']}'] {card}")).to_be_visible()
    page.wait_for_load_state()
    page.drag_and_drop(card, f".column[data-stage='{world.stages['Won']}']")
    page.wait_for_timeout(1000)
    assert not dialogs, dialogs
    expect(page.locator(f".column[data-stage='{world.stages['Won']}'] {card}")).to_be_visible()
    _shot(page, "04-board-won")

    # a quote with a product line, converted to an order
    page.goto(f"{base}/quotes/new?opportunity_id={deal_id}")
    page.select_option("select[name='lines-0-product_id']", str(world.records["products"][0].id))
    page.fill("input[name='lines-0-quantity']", "4")
    _shot(page, "05-quote-form")
    page.click("button:has-text('Create quote')")
    expect(page.locator("h1")).to_contain_text("Q-")
    expect(page.locator("tfoot")).to_contain_text("400.00")
    _shot(page, "06-quote")
    page.click("button:has-text('Convert to order')")
    expect(page.locator("h1")).to_contain_text("SO-")
    order_number = page.locator("h1").inner_text().split()[0]

    # a payment on the order
    page.fill("#pay-amount", "150")
    page.click("button:has-text('Record payment')")
    expect(page.locator(".flash-success")).to_contain_text("Payment recorded")
    expect(page.locator(".tile.bad .value")).to_contain_text("250.00")
    _shot(page, "07-order")

    # the account 360 reflects all of it
    page.goto(account_url)
    expect(page.locator("#deals")).to_contain_text("Zephyr fleet deal")
    expect(page.locator("#deals")).to_contain_text("Won")
    expect(page.locator("#quotes")).to_contain_text("Converted")
    expect(page.locator("#orders")).to_contain_text(order_number)
    expect(page.locator("#orders")).to_contain_text("250.00")
    expect(page.locator("#payments")).to_contain_text("150.00")
    expect(page.locator(".tiles")).to_contain_text("400.00")  # net revenue
    expect(page.locator("#timeline")).to_contain_text("→ Won")
    _shot(page, "08-account-360")
