"""Operational CRM: data model, business services, web app and the `crm` command line."""
