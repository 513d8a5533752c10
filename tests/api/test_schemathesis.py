"""Property-based fuzzing of the JSON API from its own OpenAPI document: no input may cause a server error."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.web.world import World


@pytest.fixture
def admin_headers(sign_in) -> dict[str, str]:  # type: ignore[no-untyped-def]
    client = sign_in("admin")
    cookie = client.cookies.get("crm_session")
    return {"Cookie": f"crm_session={cookie}", "X-CSRF-Token": client.csrf}


def _fuzzer(operation, headers, admin_id, statuses, first_401):  # type: ignore[no-untyped-def]
    """A hypothesis test calling ``operation`` with generated input; it counts what the app answered."""

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case) -> None:  # type: ignore[no-untyped-def]
        if "/users/" in operation.path and case.path_parameters.get("record_id") == admin_id:
            return  # changing or deleting the signed-in admin would end the session the fuzzing uses
        response = case.call(headers=headers)
        if not operation.path.endswith("/auth/login"):  # a wrong password rightly answers 401 there
            statuses[response.status_code] += 1
            if response.status_code == 401 and len(first_401) < 3:
                first_401.append(f"{case.method} {case.formatted_path} {response.text[:100]}")
        case.validate_response(response, checks=[not_a_server_error])

    return run


@pytest.mark.slow
def test_api_never_answers_with_a_server_error(app, world: World, admin_headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Every operation of the OpenAPI document, fuzzed in-process as a signed-in admin."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    admin_id = world.users["admin"]
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    first_401: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/auth/logout") or operation.path.endswith("/auth/logout"):
            continue  # signing out would end the session every other call uses
        operations += 1

        run = _fuzzer(operation, admin_headers, admin_id, statuses, first_401)
        try:
            run()
        except Exception as exc:  # collect every failing operation, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    assert operations > 90
    # the calls were made signed in and both accepted and refused input: the fuzzing reached the code
    assert statuses[200] > 100 and statuses[422] > 100, statuses
    assert statuses[401] == 0, first_401
    assert failures == [], "\n".join(failures)


def test_openapi_document_describes_every_entity(app) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for entity in ("accounts", "contacts", "opportunities", "quotes", "orders", "cases", "campaigns", "users"):
        assert f"/api/v1/{entity}" in paths
        assert "get" in paths[f"/api/v1/{entity}/{{record_id}}"]
    assert "/api/v1/quotes/{record_id}/convert" in paths
    assert "/api/v1/opportunities/{record_id}/stage" in paths
