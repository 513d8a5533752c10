"""Data in: demo data generator, CSV/Excel import, and extraction from the operational DB to the warehouse."""
