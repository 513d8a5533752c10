"""Business rules shared by the web pages, the JSON API, the importers and the demo generator."""
