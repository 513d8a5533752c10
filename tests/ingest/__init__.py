"""Tests of the ingest stage: demo data, CSV/Excel import, extraction to the warehouse."""
