"""JSON API of the CRM (/api/v1): thin shell over the services, same visibility and schemas as the pages."""
