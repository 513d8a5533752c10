"""Data in: the demo data generator's parts (world, customers' histories, bulk writing, hidden truth)."""
