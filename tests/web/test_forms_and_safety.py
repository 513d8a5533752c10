"""Login, CSRF, validation messages and the stale-version conflict, as a user of the pages and API meets them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_app.models import Account, AuditLog, User
from tests.web.conftest import csrf_of
from tests.web.world import PASSWORD, World


def test_pages_need_a_login_and_api_answers_401(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        page = client.get("/accounts?q=x")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=/accounts")
        assert client.get("/api/v1/accounts").status_code == 401


def test_sign_in_sets_a_protected_cookie_and_sign_out_ends_it(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    assert client.get("/").status_code == 200
    cookie = next(c for c in client.cookies.jar if c.name == "crm_session")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
    response = client.form_post("/logout")
    assert response.status_code == 303
    assert client.get("/").status_code == 303  # back to the login page


def test_wrong_passwords_lock_the_user_for_a_while(world: World, app, engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        for _ in range(5):
            bad = client.post("/login", data={"username": "rep1", "password": "nope", "csrf_token": token})
            assert bad.status_code in (401, 429)
        assert "locked" in bad.text
        # even the right password is refused while locked
        right = client.post("/login", data={"username": "rep1", "password": PASSWORD, "csrf_token": token})
        assert right.status_code == 429
        assert "locked" in right.text
    with Session(engine) as session:
        user = session.scalar(select(User).where(User.username == "rep1"))
        assert user is not None and user.locked_until is not None


def test_a_user_name_no_database_can_store_is_a_wrong_login(world: World, app) -> None:  # type: ignore[no-untyped-def]
    """A NUL character in the name (PostgreSQL refuses it): "wrong user name or password", as for any unknown
    name — not "the database did not accept the request" (schemathesis found that 503)."""
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        page = client.post("/login", data={"username": "rep1\x00", "password": PASSWORD, "csrf_token": token})
        assert page.status_code == 401 and "Wrong user name or password" in page.text
        api_token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
        api = client.post(
            "/api/v1/auth/login",
            json={"username": "rep1\x00", "password": PASSWORD},
            headers={"X-CSRF-Token": api_token},
        )
        assert api.status_code == 401 and api.json()["detail"] == "Wrong user name or password."


def test_forms_without_csrf_token_are_refused_with_a_clear_page(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    response = client.post("/accounts/new", data={"name": "Sneaky Ltd", "kind": "customer"})
    assert response.status_code == 403
    assert "security token" in response.text
    wrong = client.post("/accounts/new", data={"name": "Sneaky Ltd", "csrf_token": "forged-token-value-123456"})
    assert wrong.status_code == 403
    api = client.post("/api/v1/accounts", json={"name": "Sneaky Ltd"})
    assert api.status_code == 403
    with Session(engine) as session:
        assert session.scalar(select(func.count()).where(Account.name == "Sneaky Ltd")) == 0


def test_login_form_itself_needs_the_token(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        response = client.post("/login", data={"username": "rep1", "password": PASSWORD})
        assert response.status_code == 403


def test_invalid_form_re_renders_with_what_the_user_typed_and_field_messages(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    response = client.form_post(
        "/accounts/new",
        {"name": "   ", "kind": "customer", "email": "not-an-email", "credit_limit": "-5", "city": "Lisbon"},
    )
    assert response.status_code == 422
    text = response.text
    assert "Please correct the fields marked below" in text
    assert 'value="Lisbon"' in text and 'value="not-an-email"' in text
    assert "not a valid e-mail address" in text
    assert "greater than or equal to 0" in text
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Account).where(Account.city == "Lisbon")) == 0


def test_api_validation_names_each_field_and_never_500s(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    response = client.api("POST", "/api/v1/accounts", json={"name": "", "kind": "planet", "credit_limit": "abc"})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) >= {"name", "kind", "credit_limit"}
    assert "choose one of" in errors["kind"]
    nul = client.api("POST", "/api/v1/accounts", json={"name": "Null\x00Byte"})
    assert nul.status_code == 422
    huge = client.api("POST", "/api/v1/contacts", json={"account_id": 10**12, "first_name": "A", "last_name": "B"})
    assert huge.status_code == 422
    hidden = client.api(
        "POST",
        "/api/v1/contacts",
        json={"account_id": world.records["accounts"][1].id, "first_name": "A", "last_name": "B"},
    )
    assert hidden.status_code == 422  # an account rep1 may not see is "unknown", like one that does not exist
    assert hidden.json()["errors"] == {"account_id": "unknown account"}


def test_second_save_of_a_stale_version_is_refused_and_nothing_is_overwritten(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    first = sign_in("rep1")
    second = sign_in("boss")
    account_id = world.records["accounts"][0].id
    form_1 = first.get(f"/accounts/{account_id}/edit").text
    form_2 = second.get(f"/accounts/{account_id}/edit").text
    version = int(__import__("re").search(r'name="version" value="(\d+)"', form_1).group(1))
    saved = first.form_post(
        f"/accounts/{account_id}/edit", {"name": "Alpha by rep", "kind": "customer", "version": version}
    )
    assert saved.status_code == 303
    assert csrf_of(form_2)
    stale = second.form_post(
        f"/accounts/{account_id}/edit", {"name": "Alpha by boss", "kind": "customer", "version": version}
    )
    assert stale.status_code == 409
    assert "Someone else changed this account" in stale.text
    assert "Reload the current version" in stale.text
    assert 'value="Alpha by boss"' in stale.text  # what they typed is still on screen
    api = second.api("PATCH", f"/api/v1/accounts/{account_id}", json={"name": "Alpha API", "version": version})
    assert api.status_code == 409
    assert "changed by someone else" in api.json()["detail"]
    with Session(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None and account.name == "Alpha by rep"
        updates = session.scalar(
            select(func.count()).where(
                AuditLog.entity == "accounts", AuditLog.entity_id == account_id, AuditLog.action == "update"
            )
        )
        assert updates == 1


def test_reps_cannot_hand_records_to_others_and_own_what_they_create(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("rep1")
    created = client.api("POST", "/api/v1/accounts", json={"name": "Mine Ltd", "owner_id": world.users["rep2"]})
    assert created.status_code == 201
    assert created.json()["owner_id"] == world.users["rep1"]
    moved = client.api(
        "PATCH",
        f"/api/v1/accounts/{created.json()['id']}",
        json={"owner_id": world.users["rep2"], "version": created.json()["version"]},
    )
    assert moved.status_code == 403


def test_executive_reads_everything_but_changes_nothing(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    client = sign_in("exec")
    assert client.get("/api/v1/accounts").json()["total"] == len(world.records["accounts"])
    refused = client.api("POST", "/api/v1/accounts", json={"name": "Exec Ltd"})
    assert refused.status_code == 403
    assert client.get("/accounts/new").status_code == 403


PAGES_WITH_FORMS = [
    "/",
    "/accounts/new",
    "/contacts/new",
    "/opportunities/new",
    "/opportunities/board",
    "/quotes/new?account_id={account}",
    "/orders/new?account_id={account}",
    "/accounts/{account}/edit",
    "/orders/{order}",
    "/quotes/{quote}",
    "/cases/{case}",
    "/campaigns/{campaign}",
    "/surveys/{survey}",
    "/surveys/{survey}/respond",
    "/contact-centre?account_id={account}",
    "/document_templates/new",
    "/purchase_orders/new",
    "/users/new",
    "/custom_fields/new",
    "/accounts/{account}",
]


def test_every_form_on_every_page_carries_the_security_token(world: World, sign_in) -> None:  # type: ignore[no-untyped-def]
    import re

    client = sign_in("admin")
    ids = {
        "account": world.records["accounts"][0].id,
        "order": world.records["orders"][0].id,
        "quote": world.records["quotes"][0].id,
        "case": world.records["cases"][0].id,
        "campaign": world.records["campaigns"][0].id,
        "survey": world.records["surveys"][0].id,
    }
    for url in PAGES_WITH_FORMS:
        page = client.get(url.format(**ids))
        assert page.status_code == 200, url
        forms = re.findall(r'<form[^>]*method="post".*?</form>', page.text, flags=re.S)
        assert forms, f"{url} has no form"
        for form in forms:
            token = re.search(r'name="csrf_token" value="([^"]*)"', form)
            assert token and len(token.group(1)) > 20, f"a form on {url} has no security token: {form[:200]}"


def test_search_finds_names_starting_with_the_text_then_names_containing_it(world: World, sign_in, engine) -> None:  # type: ignore[no-untyped-def]
    import re

    with Session(engine) as session:
        session.add_all([Account(name="Zulu Works", kind="customer"), Account(name="Big Zulu", kind="customer")])
        session.commit()
    client = sign_in("admin")

    def names(q: str) -> list[str]:
        page = client.get("/accounts", params={"q": q}).text
        return re.findall(r'<tr><td class="col-\w+"><a href="/accounts/\d+">([^<]+)</a>', page)

    assert names("zulu") == ["Zulu Works"]  # any case; "starts with" is answered from the name index
    assert names("works") == ["Zulu Works"]  # nothing starts with it: names containing it
    assert names("nothing-like-this") == []
    api = client.get("/api/v1/accounts", params={"q": "ZULU"}).json()
    assert [a["name"] for a in api["items"]] == ["Zulu Works"]


def test_every_new_form_renders_and_refuses_empty_or_garbage_input_without_a_server_error(
    world: World, sign_in
) -> None:  # type: ignore[no-untyped-def]
    from crm_app.services.registry import RESOURCES
    from crm_app.web.pages import HAND_CRAFTED

    client = sign_in("admin")
    garbage = {
        "name": "\u0000" * 3,
        "amount": "lots",
        "account_id": "-1",
        "due_at": "yesterday",
        "email": "@",
        "kind": "nonsense",
        "quantity": "1e999",
        "lines-0-quantity": "abc",
        "custom.vat_id": "x" * 600,
        "version": "not-a-number",
    }
    for name, spec in RESOURCES.items():
        if spec.create_schema is None or spec.entity != name or name == "survey_responses":
            continue  # responses are entered on their survey's "respond" page (tested with the workflows)
        url = f"/{name}/new"
        if "new" not in HAND_CRAFTED.get(name, set()) or name in ("quotes", "orders"):
            page = client.get(url + ("?account_id=1" if name in ("quotes", "orders") else ""))
            assert page.status_code == 200, (url, page.status_code)
        for data in ({}, garbage):
            response = client.form_post(url, data)
            assert response.status_code in (303, 422), (url, data is garbage, response.status_code, response.text[:300])
