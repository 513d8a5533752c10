"""The API suite reuses the web fixtures (app on the test database, the small world, signed-in clients)."""

from tests.web.conftest import app, settings, sign_in, world  # noqa: F401
