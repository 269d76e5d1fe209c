"""Bloat, index and health reports: pure models and findings beside the catalog queries that feed them."""
