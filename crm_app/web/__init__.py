"""Web layer: FastAPI app with server-rendered pages (Jinja2) over the services."""
